// Small behaviours the CSP allows (no inline script).
// With JavaScript on, the switch buttons that exist for no-JS users are hidden.
// htmx:load also covers content htmx swaps in later (it fires for the initial page as well).
const hideFallbacks = (root) => {
  root.querySelectorAll("[data-autosubmit-fallback]").forEach((b) => b.classList.add("js-hidden"));
};
document.addEventListener("DOMContentLoaded", () => hideFallbacks(document));
document.addEventListener("htmx:load", (event) => hideFallbacks(event.target.parentElement || document));

// Every form says which office its page was opened for, so a save from a tab left open before
// the office was switched elsewhere is refused by the server instead of landing in another office.
document.addEventListener("submit", (event) => {
  const form = event.target;
  const office = document.body.dataset.office;
  if (!office || form.method.toLowerCase() !== "post" || form.hasAttribute("data-no-office-guard")
      || form.querySelector('input[name="office"]')) {
    return;
  }
  const input = document.createElement("input");
  input.type = "hidden";
  input.name = "office";
  input.value = office;
  form.appendChild(input);
});
