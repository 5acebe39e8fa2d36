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

// Bulk payment request list: the page's select-all box, and the snooze dialog. Without
// JavaScript the clock links open the snooze page and the buttons post the form as it is.
document.documentElement.classList.add("js");

document.addEventListener("change", (event) => {
  const all = event.target.closest(".pick-page");
  if (!all) {
    return;
  }
  const boxes = document.querySelectorAll("#selection-form input.pick");
  boxes.forEach((box) => { box.checked = all.checked; });
  // One change event: htmx posts the whole form (every box on the page) once.
  if (boxes.length) {
    boxes[0].dispatchEvent(new Event("change", { bubbles: true }));
  }
});

const snoozeDialog = () => document.getElementById("snooze-dialog");

const snoozeOpen = (scope, guarantor, who) => {
  const dialog = snoozeDialog();
  if (!dialog) {
    return false;
  }
  dialog.querySelector('input[name="scope"]').value = scope;
  dialog.querySelector('input[name="guarantor"]').value = guarantor || "";
  dialog.querySelector("[data-snooze-who]").textContent = who;
  dialog.showModal();
  return true;
};

document.addEventListener("click", (event) => {
  const one = event.target.closest("[data-snooze-one]");
  if (one && snoozeOpen("one", one.dataset.snoozeOne, one.dataset.snoozeName)) {
    event.preventDefault();
    return;
  }
  const many = event.target.closest("[data-snooze-selection]");
  if (many && snoozeOpen("selection", "", "the selected guarantors")) {
    event.preventDefault();
    return;
  }
  const close = event.target.closest("[data-dialog-close]");
  if (close) {
    close.closest("dialog").close();
  }
});

// Keep the pick-page box in step with the rows: checked when every pending row is.
const pickPageSync = () => {
  const all = document.querySelector(".pick-page");
  const boxes = [...document.querySelectorAll("#selection-form input.pick")];
  if (all && boxes.length) {
    all.checked = boxes.every((box) => box.checked);
  }
  boxes.forEach((box) => box.closest("tr").classList.toggle("is-selected", box.checked));
};
document.addEventListener("DOMContentLoaded", pickPageSync);
document.addEventListener("htmx:afterSwap", pickPageSync);
