// The transcript's clicks (run by Gradio's HTML component as js_on_load: `element` is the
// component, `server.feedback` reaches Python, `watch` runs after each re-render).
// The transcript is re-rendered from the server on every streamed sentence, so listeners are
// delegated from `element`, and what the reader did to earlier turns (feedback sent, a
// disclosure unfolded) is remembered here and restored after each render.
const sent = new Set(); // turn ids whose feedback was kept
const unfolded = new Set(); // data-key of disclosures the reader opened
let turnsSeen = 0;
// A reader who asked their system for less motion gets jumps, not glides.
const still = window.matchMedia("(prefers-reduced-motion: reduce)");
const glide = () => (still.matches ? "auto" : "smooth");

// What a screen reader says of an answer: the transcript is redrawn on every streamed sentence,
// so it cannot be a live region itself (each redraw would be read from the top). One region
// outside it, visually hidden, says that an answer is being written, then the answer and its
// notices once it is complete (or the error), each paragraph with its language.
const live = document.createElement("div");
live.className = "answer-live";
live.setAttribute("aria-live", "polite");
document.body.append(live);
const announced = new Set(); // "<turn's key>:<state>" already said

function announce(turn) {
  const key = turn.querySelector("details.disclosure")?.dataset.key;
  const state = ["done", "failed", "streaming"].find((s) => turn.classList.contains(s));
  if (!key || !state || announced.has(`${key}:${state}`)) return;
  announced.add(`${key}:${state}`);
  const said = state === "done" ? ".answer p, .notices li" : state === "failed" ? ".error" : ".answer p";
  const lines = [...turn.querySelectorAll(said)].slice(0, state === "streaming" ? 1 : undefined);
  live.replaceChildren(...lines.map((line) => {
    const p = document.createElement("p");
    const lang = line.closest("[lang]");
    if (lang && lang !== document.documentElement) p.lang = lang.lang;
    p.textContent = line.textContent.replace(/\[\d+\]/g, ""); // footnotes are links to see
    return p;
  }));
}

// The source a footnote names: lit up, brought into view, and the keyboard's (and a screen
// reader's) place moved to it, so that Tab goes on from there.
function flash(target) {
  element.querySelectorAll(".source.active").forEach((node) => node.classList.remove("active"));
  target.classList.add("active");
  target.tabIndex = -1;
  target.scrollIntoView({ block: "center", behavior: glide() });
  target.focus({ preventScroll: true });
}

function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    return navigator.clipboard.writeText(text);
  }
  // Served over plain http to another machine: the old way still works there.
  const area = document.createElement("textarea");
  area.value = text;
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.appendChild(area);
  area.select();
  const ok = document.execCommand("copy");
  area.remove();
  return ok ? Promise.resolve() : Promise.reject(new Error("copy refused"));
}

function restore() {
  sent.forEach((turn) => {
    const box = element.querySelector(`.feedback[data-turn="${CSS.escape(turn)}"]`);
    if (box) done(box);
  });
  element.querySelectorAll("details.disclosure").forEach((details) => {
    if (unfolded.has(details.dataset.key)) details.open = true;
  });
  const turns = element.querySelectorAll(".turn");
  if (turns.length) announce(turns[turns.length - 1]);
  if (turns.length > turnsSeen) {
    turns[turns.length - 1].scrollIntoView({ block: "start", behavior: glide() });
  }
  turnsSeen = turns.length;
}

function done(box) {
  box.querySelectorAll("button, input").forEach((node) => (node.disabled = true));
  box.querySelector(".feedback-form").hidden = true;
  const note = box.querySelector(".feedback-done");
  note.textContent = note.dataset.thanks;
  note.hidden = false;
}

element.addEventListener("toggle", (event) => {
  const details = event.target;
  if (!details.matches || !details.matches("details.disclosure")) return;
  if (details.open) unfolded.add(details.dataset.key);
  else unfolded.delete(details.dataset.key);
}, true);

element.addEventListener("click", async (event) => {
  const cite = event.target.closest(".cite[data-target]");
  if (cite) {
    event.preventDefault();
    const target = document.getElementById(cite.dataset.target);
    if (target) flash(target);
    return;
  }
  const copy = event.target.closest("button.copy");
  if (copy) {
    const source = copy.closest(".turn").querySelector(".copy-source");
    const label = copy.textContent;
    try {
      await copyText(source.value);
      copy.textContent = copy.dataset.done;
    } catch (error) {
      copy.textContent = copy.dataset.failed;
    }
    setTimeout(() => (copy.textContent = label), 2000);
    return;
  }
  const thumb = event.target.closest("button.thumb");
  if (thumb) {
    const box = thumb.closest(".feedback");
    box.querySelectorAll("button.thumb").forEach((node) => node.setAttribute("aria-pressed", "false"));
    thumb.setAttribute("aria-pressed", "true");
    box.dataset.rating = thumb.dataset.rating;
    box.querySelector(".feedback-form").hidden = false;
    box.querySelector("input.comment").focus();
    return;
  }
  const submit = event.target.closest("button.send-feedback");
  if (submit) {
    const box = submit.closest(".feedback");
    const note = box.querySelector(".feedback-done");
    submit.disabled = true;
    let kept = false;
    try {
      kept = await server.feedback(box.dataset.turn, box.dataset.rating, box.querySelector("input.comment").value);
    } catch (error) {
      kept = false;
    }
    if (kept) {
      sent.add(box.dataset.turn);
      done(box);
    } else {
      submit.disabled = false;
      note.textContent = note.dataset.failed;
      note.hidden = false;
    }
  }
});

element.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && event.target.matches("input.comment")) {
    event.preventDefault();
    event.target.closest(".feedback").querySelector("button.send-feedback").click();
  }
});

watch("value", restore);
