// Send balance notification: F2 sends the form, as its button says (aria-keyshortcuts="F2").
// A second F2 (or a click) while the first send is on its way does nothing: the page is leaving.
(() => {
  let sending = false;
  document.addEventListener("submit", (event) => {
    if (event.target.matches("[data-send-shortcut]") && event.submitter && event.submitter.value === "send") {
      sending = true;
    }
  });
  document.addEventListener("keydown", (event) => {
    if (event.key !== "F2" || event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) {
      return;
    }
    const button = document.querySelector("form[data-send-shortcut] button[value='send']");
    if (!button) {
      return;
    }
    event.preventDefault();
    if (sending || event.repeat || button.disabled) {
      return;
    }
    button.form.requestSubmit(button);
  });
})();
