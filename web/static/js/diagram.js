/* つなぐ — scroll the case diagram so the current (or overdue) step is in view. Optional: the
 * diagram is complete without JavaScript. */
(function () {
  'use strict';
  var box = document.querySelector('.diagram');
  if (!box) { return; }
  var target = box.querySelector('.mark-overdue, .mark-current') ||
    Array.prototype.slice.call(box.querySelectorAll('.mark-completed')).pop();
  if (!target || !target.getBBox) { return; }
  var svg = box.querySelector('svg');
  var bbox = target.getBBox();
  var view = svg.viewBox.baseVal;
  var scale = svg.getBoundingClientRect().width / (view.width || 1);
  box.scrollLeft = Math.max(0, (bbox.x - view.x) * scale - box.clientWidth / 3);
  box.scrollTop = Math.max(0, (bbox.y - view.y) * scale - box.clientHeight / 3);
})();
