// The chat page the widget opens. Everything shown is set with textContent: a question, an
// answer or a document that holds markup shows it as text. Only this server is contacted.
"use strict";
(() => {
  const config = JSON.parse(document.getElementById("config").textContent);
  const S = config.strings;
  const $ = (id) => document.getElementById(id);
  const log = $("log"), input = $("q"), send = $("send"), status = $("status");
  const framed = window.parent !== window;
  const history = [];
  let turns = 0;
  // One anonymous id per tab, so the audit trail can tell one visitor's turns apart.
  const session = (() => {
    const fresh = () => (crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2));
    try {
      const kept = sessionStorage.getItem("fta-session") || fresh();
      sessionStorage.setItem("fta-session", kept);
      return kept;
    } catch (error) { // storage may be blocked in a third-party frame
      return fresh();
    }
  })();

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // The language a text is written in, read as the server's text.is_chinese reads it (a Han
  // character for every four Latin letters is Chinese); "" for figures and punctuation.
  function langOf(text) {
    const han = (text.match(/[\u3400-\u9fff]/g) || []).length;
    const latin = (text.match(/[A-Za-z]/g) || []).length;
    if (han > 0 && han >= latin / 4) return "zh";
    return latin ? "en" : "";
  }

  function foreign(text) {
    const lang = langOf(text);
    return lang && !document.documentElement.lang.startsWith(lang) ? lang : "";
  }

  // Text as nodes, each line or sentence in another language than the page's in a <span lang>:
  // a screen reader reads a Chinese source to an English reader in a Chinese voice, not
  // spelled out letter by letter in an English one (and the other way round).
  function voiced(text) {
    const out = document.createDocumentFragment();
    for (const run of text.split(/(?<=[\n。！？])/)) {
      const lang = foreign(run);
      if (!lang) { out.append(run); continue; }
      const span = el("span", "", run);
      span.lang = lang;
      out.append(span);
    }
    return out;
  }

  function voicedEl(tag, cls, text) {
    const node = el(tag, cls);
    node.append(voiced(text));
    return node;
  }

  // Text that reads on the site's colour: dark on light colours, white on dark ones.
  function readableOn(hex) {
    const full = hex.length === 4 ? "#" + [...hex.slice(1)].map((c) => c + c).join("") : hex;
    const [r, g, b] = [1, 3, 5].map((i) => {
      const c = parseInt(full.slice(i, i + 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.4 ? "#1f2328" : "#ffffff";
  }

  function setStatus(text, bad) {
    status.hidden = !text;
    status.textContent = text || "";
    status.className = bad ? "bad" : "";
  }

  async function checkHealth() {
    try {
      const health = await (await fetch("/healthz")).json();
      setStatus(health.mode === "offline" ? S.status_offline : "");
    } catch (error) {
      setStatus(S.status_unreachable, true);
    }
  }

  function post(type) {
    // The parent may be any allowed site; the message says nothing but "close".
    if (framed) window.parent.postMessage({ type }, "*");
  }

  function disclosureBlock(text) {
    // The newest answer's disclosure is open; older ones fold when a new answer comes, each
    // still under its own answer.
    for (const older of log.querySelectorAll("details.disclosure[open]")) older.open = false;
    const details = el("details", "disclosure");
    details.open = true;
    // In the other language than the page's, it says so: the fund's words, not a translation.
    const summary = foreign(text) ? `${S.disclosure} · ${S.original}` : S.disclosure;
    details.append(el("summary", "", summary), voicedEl("div", "disclosure-text", text));
    return details;
  }

  // A refusal's sentence is written for the site's developer (in English, naming a setting):
  // the two an investor meets, too many questions and a busy server, are said in our words,
  // in the page's language. The developer's sentence goes to the console.
  const REFUSED = { 429: "rate_limited", 503: "busy" };

  function showError(box, body, retryAfter, status) {
    box.textContent = "";
    box.className = "answer";
    let text = body.error || S.connection_lost;
    if (REFUSED[status] && retryAfter) {
      console.info(`${status}: ${body.error}`);
      text = S[REFUSED[status]].replace("{seconds}", retryAfter);
    } else if (retryAfter) text += " " + S.retry_after.replace("{seconds}", retryAfter);
    box.append(voicedEl("div", "error", text));
    if (body.disclosure) box.append(disclosureBlock(body.disclosure));
  }

  function sourceBlock(c, id) {
    const box = el("div", "source");
    box.id = id;
    const page = c.page ? S.page.replace("{page}", c.page) : null;
    const original = foreign(c.text) ? S.original : null; // quoted as written, not translated
    const where = [c.publisher, c.published, c.section, page, original].filter(Boolean).join(" · ");
    box.append(voicedEl("div", "where", `[${c.n}] 《${c.title}》 ${where}`));
    const body = el("div");
    const own = foreign(c.text);
    if (own) body.lang = own;
    const at = c.quote ? c.text.indexOf(c.quote) : -1;
    if (at >= 0) {
      body.append(c.text.slice(0, at), el("mark", "", c.quote), c.text.slice(at + c.quote.length));
    } else {
      body.textContent = c.text;
    }
    box.append(body);
    return box;
  }

  function renderAnswer(box, a) {
    const turn = turns;
    box.textContent = "";
    box.className = "answer";
    const sources = el("div", "sources");
    // Each [n] becomes a button that opens its passage; the text between stays text.
    for (const part of a.answer.split(/(\[\d+\])/)) {
      const m = part.match(/^\[(\d+)\]$/);
      const c = m && a.citations.find((x) => x.n === Number(m[1]));
      if (!c) { box.append(voiced(part)); continue; }
      const id = `source-${turn}-${c.n}`;
      const button = el("button", "cite", part);
      button.type = "button";
      button.setAttribute("aria-label", S.cite.replace("{n}", c.n)); // not "left bracket 1…"
      button.setAttribute("aria-expanded", "false");
      // It names the box it controls while that box exists (an id naming nothing is an error).
      button.addEventListener("click", () => {
        const open = document.getElementById(id);
        if (open) {
          open.remove();
          button.setAttribute("aria-expanded", "false");
          button.removeAttribute("aria-controls");
          return;
        }
        sources.append(sourceBlock(c, id));
        button.setAttribute("aria-expanded", "true");
        button.setAttribute("aria-controls", id);
      });
      box.append(button);
    }
    const label = a.mode === "llm" ? [S.model, a.model].filter(Boolean).join(" · ") : S[a.mode];
    const notices = el("ul", "notices");
    for (const n of a.notices) notices.append(voicedEl("li", "", n));
    box.after(el("span", `badge ${a.mode}`, label), sources, notices, disclosureBlock(a.disclosure));
  }

  function recent() {
    const keep = config.limits.turns;
    return keep ? history.slice(-keep).map((t) => ({ role: t.role, content: t.content.slice(0, config.limits.turnChars) })) : [];
  }

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  async function readStream(response, box, message) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "", shown = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const frame = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let kind = "", data = "";
        for (const line of frame.split("\n")) {
          if (line.startsWith("event: ")) kind = line.slice(7);
          else if (line.startsWith("data: ")) data += line.slice(6);
        }
        if (!kind) continue; // a keep-alive comment
        const body = JSON.parse(data);
        if (kind === "delta") {
          // The log is a live region: while the answer grows, busy, so that a screen reader
          // reads it once, whole, and not each piece again from the top (cleared in ask()).
          log.setAttribute("aria-busy", "true");
          shown += body.text;
          box.className = "answer";
          box.replaceChildren(voiced(shown));
        } else if (kind === "done") {
          renderAnswer(box, body);
          history.push({ role: "user", content: message }, { role: "assistant", content: body.answer });
          return true;
        } else if (kind === "error") {
          showError(box, body);
          return true;
        }
        scrollDown();
      }
    }
    return false;
  }

  async function ask(message) {
    turns += 1;
    const turn = el("div", "turn");
    const box = el("div", "answer pending", S.thinking);
    turn.append(voicedEl("div", "question", message), box);
    log.append(turn);
    scrollDown();
    send.disabled = true;
    try {
      const response = await fetch("/embed/chat", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ message, history: recent(), stream: true, session }),
      });
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        showError(box, body, response.headers.get("Retry-After"), response.status);
      } else if (!(await readStream(response, box, message))) {
        showError(box, {});
      } else {
        input.value = "";
      }
    } catch (error) {
      showError(box, {});
      // Offline, or the assistant itself gone: the status line says which.
      if (!navigator.onLine) setStatus(S.status_no_network, true);
      else checkHealth();
    } finally {
      log.removeAttribute("aria-busy");
      send.disabled = false;
      turn.scrollIntoView({ block: "start" }); // the answer from its question down
    }
  }

  const style = document.documentElement.style;
  style.setProperty("--accent", config.color);
  style.setProperty("--on-accent", readableOn(config.color));
  document.title = config.title;
  $("title").append(voiced(config.title));
  $("intro").append(voiced(S.intro));
  $("q-label").textContent = S.you;
  input.placeholder = S.placeholder;
  input.maxLength = config.limits.question;
  send.textContent = S.send;
  if (framed) {
    const close = $("close");
    close.hidden = false;
    close.setAttribute("aria-label", S.close);
    close.title = S.close;
    close.addEventListener("click", () => post("fta:close"));
  }
  $("ask").addEventListener("submit", (event) => {
    event.preventDefault();
    const message = input.value.trim();
    if (message && !send.disabled) ask(message);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("ask").requestSubmit();
    }
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") post("fta:close");
  });
  window.addEventListener("message", (event) => {
    if (event.source === window.parent && event.data && event.data.type === "fta:open") input.focus();
  });
  window.addEventListener("offline", () => setStatus(S.status_no_network, true));
  window.addEventListener("online", checkHealth);
  checkHealth();
})();
