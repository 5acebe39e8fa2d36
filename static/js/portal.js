// Small behaviours the CSP allows (no inline script): submit-on-change selects.
document.addEventListener("change", (event) => {
  const el = event.target;
  if (el.matches && el.matches("[data-autosubmit]") && el.form) {
    el.form.requestSubmit();
  }
});
// With JavaScript on, the switch buttons that exist for no-JS users are hidden.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-autosubmit-fallback]").forEach((b) => b.classList.add("js-hidden"));
});
