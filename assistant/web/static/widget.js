// The embeddable widget: one <script src=".../widget.js" data-lang data-title data-color async>
// line on any page gives a button that opens the assistant (/embed of this script's server)
// in an iframe. Everything lives in a shadow root: the page's styles cannot reach in and
// ours cannot leak out; the only global touched is one custom element beside <body>.
(async () => {
  "use strict";
  const script = document.currentScript; // read before the first await: it is null after
  if (!script || document.querySelector("fund-thesis-widget")) return; // once per page
  const STRINGS = /*STRINGS*/ {};
  // The allowed sites as SHA-256 of their origins (or "*"): this file is public, the fund's
  // list of partner sites need not be.
  const ALLOWED = /*ALLOWED*/ [];
  const origin = new URL(script.src, location.href).origin;

  async function allowedHere() {
    if (location.origin === origin || ALLOWED.includes("*")) return true;
    // Hashing needs a secure context (https, or this machine); elsewhere the widget is drawn
    // and the browser still refuses the framing if the server does not list the site.
    if (!(window.crypto && crypto.subtle)) return true;
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(location.origin));
    const hex = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
    return ALLOWED.includes(hex);
  }

  // The server would refuse to be framed here (CSP frame-ancestors): say so, draw nothing.
  if (!(await allowedHere())) {
    console.warn(`The assistant at ${origin} may not be embedded on ${location.origin}: `
      + "its operator lists the sites that may in ASSISTANT_ALLOWED_ORIGINS.");
    return;
  }
  if (document.querySelector("fund-thesis-widget")) return; // another copy finished first
  const lang = ["en", "zh-Hant"].includes(script.dataset.lang) ? script.dataset.lang : "zh";
  const S = STRINGS[lang] || {};
  const title = (script.dataset.title || S.title || "").slice(0, 60);
  const color = /^#[0-9a-f]{3}([0-9a-f]{3})?$/i.test(script.dataset.color || "") ? script.dataset.color : "#0969da";

  const CSS = `
    :host { all: initial; }
    .fab { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; width: 56px; height: 56px;
      border: 0; border-radius: 50%; background: var(--fta-accent); color: #fff; cursor: pointer;
      box-shadow: 0 4px 14px rgba(0,0,0,.25); display: grid; place-items: center; padding: 0; }
    .fab:focus-visible { outline: 3px solid #1f2328; outline-offset: 3px; }
    .fab svg { width: 28px; height: 28px; fill: currentColor; }
    .panel { position: fixed; right: 20px; bottom: 88px; z-index: 2147483001;
      width: min(max(400px, 25rem), calc(100vw - 40px)); /* wider with a reader's larger font */
      height: min(640px, calc(100vh - 110px)); border-radius: 12px; overflow: hidden; background: #fff;
      box-shadow: 0 8px 30px rgba(0,0,0,.3); }
    .panel[hidden] { display: none; }
    iframe { display: block; width: 100%; height: 100%; border: 0; }
    /* A phone, upright or held sideways (a box 280 px tall left a line and a half for answers). */
    @media (max-width: 480px), (max-height: 480px) {
      .panel { inset: 0; width: 100%; height: 100%; border-radius: 0; }
      .open .fab { display: none; }
    }`;

  const host = document.createElement("fund-thesis-widget");
  const root = host.attachShadow({ mode: "open" });
  // A constructed sheet is not inline style: a host page's strict CSP does not block it.
  if ("adoptedStyleSheets" in root) {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    root.adoptedStyleSheets = [sheet];
  } else {
    const style = document.createElement("style");
    style.textContent = CSS;
    root.append(style);
  }
  const wrap = document.createElement("div");
  wrap.style.setProperty("--fta-accent", color);
  const button = document.createElement("button");
  button.type = "button";
  button.className = "fab";
  button.setAttribute("aria-label", `${S.open || ""}: ${title}`);
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("aria-controls", "fta-panel");
  button.title = title;
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6v2h2V9H7zm4 0v2h2V9h-2zm4 0v2h2V9h-2z");
  svg.append(path);
  button.append(svg);
  const panel = document.createElement("div");
  panel.className = "panel";
  panel.id = "fta-panel";
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", title);
  wrap.append(button, panel);
  root.append(wrap);
  let frame = null;

  function open() {
    const loaded = Boolean(frame);
    if (!frame) {
      frame = document.createElement("iframe");
      frame.title = title;
      frame.src = `${origin}/embed?${new URLSearchParams({ lang, title, color })}`;
      frame.addEventListener("load", () => frame.contentWindow.postMessage({ type: "fta:open" }, origin));
      panel.append(frame);
    }
    panel.hidden = false;
    wrap.classList.add("open");
    button.setAttribute("aria-expanded", "true");
    frame.focus();
    // A new frame is still about:blank (the page's origin): its load event tells it instead.
    if (loaded) frame.contentWindow.postMessage({ type: "fta:open" }, origin);
  }

  function close() {
    panel.hidden = true;
    wrap.classList.remove("open");
    button.setAttribute("aria-expanded", "false");
    button.focus();
  }

  button.addEventListener("click", () => (panel.hidden ? open() : close()));
  window.addEventListener("message", (event) => {
    if (frame && event.origin === origin && event.source === frame.contentWindow
        && event.data && event.data.type === "fta:close") close();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !panel.hidden) close();
  });
  // Beside <body>, not in it: a filter or transform on <body> (a site greyed for a day of
  // mourning) makes it the box fixed elements are placed in, and the button would sit at the
  // foot of a long page, off screen. The root element is exempt from that rule for filters.
  const mount = () => document.documentElement.append(host);
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
