// Marks the page when scripts load, so a broken script path is visible at a glance.
document.addEventListener("DOMContentLoaded", function () {
  var status = document.getElementById("js-status");
  if (status) {
    status.textContent = "JavaScript loaded.";
    status.className = "ok";
  }
});
