// The argument maps' clicks (Gradio's HTML component runs this as js_on_load: `element` is the
// component, `trigger` fires its Python listener, `watch` runs after each re-render). Used by the
// investor's map cards and the advisor's outlines. A click sends an index, never text: the
// server looks the step's question or the map up in the maps it showed this page.
// The cards are re-rendered when the language changes, so listeners are delegated from
// `element`, and the folds the reader opened are remembered and restored.
const unfolded = new Set(); // "map" or "disclosure" + data-key of the details the reader opened

function openAround(node) {
  for (let d = node.closest("details"); d; d = d.parentElement.closest("details")) d.open = true;
}

const still = window.matchMedia("(prefers-reduced-motion: reduce)"); // jumps, not glides

// As in the transcript: the source shown, lit up, and the keyboard's place moved to it.
function flash(target) {
  element.querySelectorAll(".source.active").forEach((node) => node.classList.remove("active"));
  target.hidden = false;
  openAround(target);
  target.classList.add("active");
  target.tabIndex = -1;
  target.scrollIntoView({ block: "center", behavior: still.matches ? "auto" : "smooth" });
  target.focus({ preventScroll: true });
}

function foldKey(details) {
  return `${details.className}:${details.dataset.key}`;
}

element.addEventListener("toggle", (event) => {
  const details = event.target;
  if (!details.matches || !details.matches("details[data-key]")) return;
  if (details.open) unfolded.add(foldKey(details));
  else unfolded.delete(foldKey(details));
}, true);

element.addEventListener("click", (event) => {
  const cite = event.target.closest(".cite[data-target]");
  if (cite) {
    event.preventDefault(); // inside a <summary> it would also fold the card
    const target = document.getElementById(cite.dataset.target);
    if (target) flash(target);
    return;
  }
  const ask = event.target.closest("button.ask-step[data-step]");
  if (ask) {
    trigger("click", { step: ask.dataset.step });
    return;
  }
  const insert = event.target.closest("button.insert-outline[data-map]");
  if (insert) trigger("click", { map: insert.dataset.map });
});

watch("value", () => {
  element.querySelectorAll("details[data-key]").forEach((details) => {
    if (unfolded.has(foldKey(details))) details.open = true;
  });
});
