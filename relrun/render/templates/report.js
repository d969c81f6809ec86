// Legend buttons show and hide a series of the timeline; printing shows everything.
document.querySelectorAll(".legend button[data-toggle]").forEach(function (button) {
  button.addEventListener("click", function () {
    var shown = button.getAttribute("aria-pressed") !== "false";
    button.setAttribute("aria-pressed", shown ? "false" : "true");
    document.querySelectorAll('#timeline [data-series="' + button.dataset.toggle + '"]')
      .forEach(function (node) { node.classList.toggle("hidden", shown); });
  });
});
