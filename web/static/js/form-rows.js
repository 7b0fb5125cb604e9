/* つなぐ — add and remove rows of table fields (世帯構成 etc.) without a round trip.
 * The Content-Security-Policy forbids inline script, so this is the only script the forms load.
 * Without JavaScript the same buttons post to the server, which re-renders the form with the row
 * added or removed; with it, rows are cloned from the <template> and renumbered here. */
(function () {
  'use strict';

  function escapeRe(text) { return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'); }

  function renumber(fieldset) {
    var table = fieldset.getAttribute('data-table');
    var namePrefix = new RegExp('^' + escapeRe(table) + '\\.[^.]+\\.');
    var idPrefix = new RegExp('(^|\\s)f-' + escapeRe(table) + '-[^-\\s]+-', 'g');
    var rows = fieldset.querySelectorAll('tbody[data-rows] > tr[data-row]');
    rows.forEach(function (tr, i) {
      tr.querySelectorAll('*').forEach(function (el) {
        if (el.hasAttribute('data-remove-row')) {
          el.value = 'remove_row:' + table + ':' + i;
        } else if (el.hasAttribute('name')) {
          el.setAttribute('name', el.getAttribute('name').replace(namePrefix, table + '.' + i + '.'));
        }
        ['id', 'for', 'aria-describedby'].forEach(function (attr) {
          if (el.hasAttribute(attr)) {
            el.setAttribute(attr, el.getAttribute(attr).replace(idPrefix, '$1f-' + table + '-' + i + '-'));
          }
        });
        if (el.hasAttribute('data-row-number')) { el.textContent = String(i + 1); }
      });
    });
    var add = fieldset.querySelector('[data-add-row]');
    var max = parseInt(fieldset.getAttribute('data-max-rows') || '100', 10);
    if (add) { add.disabled = rows.length >= max; }
    return rows;
  }

  function announce(fieldset, message) {
    var live = fieldset.querySelector('[data-live]');
    if (!live) {
      live = document.createElement('p');
      live.setAttribute('data-live', '');
      live.setAttribute('aria-live', 'polite');
      live.className = 'visually-hidden';
      fieldset.appendChild(live);
    }
    live.textContent = message;
  }

  function addRow(fieldset) {
    var template = fieldset.querySelector('template[data-row-template]');
    var tbody = fieldset.querySelector('tbody[data-rows]');
    if (!template || !tbody) { return; }
    var row = template.content.querySelector('tr').cloneNode(true);
    tbody.appendChild(row);
    var rows = renumber(fieldset);
    var first = row.querySelector('input, select, textarea');
    if (first) { first.focus(); }
    announce(fieldset, rows.length + '行目を追加しました。');
  }

  function removeRow(fieldset, button) {
    var row = button.closest('tr[data-row]');
    var tbody = fieldset.querySelector('tbody[data-rows]');
    if (!row || !tbody) { return; }
    row.remove();
    var rows = renumber(fieldset);
    var target = rows.length ? rows[rows.length - 1].querySelector('input, select, textarea')
      : fieldset.querySelector('[data-add-row]');
    if (target) { target.focus(); }
    announce(fieldset, '行を削除しました。残り' + rows.length + '行です。');
  }

  document.addEventListener('click', function (event) {
    var button = event.target.closest('[data-add-row], [data-remove-row]');
    if (!button) { return; }
    var fieldset = button.closest('[data-table]');
    if (!fieldset) { return; }
    event.preventDefault();
    if (button.hasAttribute('data-add-row')) { addRow(fieldset); } else { removeRow(fieldset, button); }
  });

  document.querySelectorAll('[data-table]').forEach(renumber);

  var summary = document.getElementById('error-summary');
  if (summary) { summary.focus(); }
})();
