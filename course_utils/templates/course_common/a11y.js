/* The widget renderer draws a slider as a noUiSlider handle (role="slider", reached with Tab, moved with the arrow
   keys) without a name: give each handle its widget's label, so a screen reader says which slider it is. */
(function () {
  var queued = false;
  function label() {
    queued = false;
    document.querySelectorAll(".widget-slider").forEach(function (w) {
      var handle = w.querySelector(".noUi-handle"), text = w.querySelector(".widget-label");
      if (handle && !handle.hasAttribute("aria-label")) {
        handle.setAttribute("aria-label", (text && text.textContent.trim()) || "slider");
      }
    });
  }
  new MutationObserver(function () {
    if (!queued) { queued = true; window.requestAnimationFrame(label); }
  }).observe(document.documentElement, {childList: true, subtree: true});
})();
