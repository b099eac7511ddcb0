/*
 * The form guard every otb editor form uses. Not loaded on its own: cli/build-assets.ts puts
 * these lines in place of the marker line "// otb:form-guard" inside each node's .html script,
 * because a node's .html is loaded by Node-RED as one piece and the pack has no editor bundle.
 */
  // Form guard, the same in every otb form (issues 16, 20). Node-RED's Done writes every input
  // back into the node (editor.js, the edit pane's apply): an omitted field would be saved as ""
  // or false, and a select or number input that cannot show a ${VAR} would blank it. prepare():
  // a select shows the default for an omitted value and keeps any other value (a ${VAR}) as an
  // option of its own; a number input holding a ${VAR} becomes a text input. save(): a field the
  // flow omits and the user left alone stays omitted (Node-RED skips a field without an input),
  // and a list the user did not change is kept as the flow had it, not rebuilt from the form.
  var guard = {
    kept: {},
    value: function (el) { return el.attr("type") === "checkbox" ? el.prop("checked") : el.val(); },
    prepare: function (node, prefix, readLists) {
      var omitted = {};
      Object.keys(node._def.defaults).forEach(function (k) {
        var el = $("#" + prefix + "-" + k), v = node[k], def = node._def.defaults[k];
        if (el.length !== 1 || def.type) return;
        if (el.is("select") && !el.prop("multiple")) {
          var has = function (x) { return el.find("option").filter(function () { return this.value === String(x); }).length > 0; };
          var want = (v === undefined || v === null || v === "") ? (has("") || def.value === undefined ? null : def.value) : v;
          if (want !== null && el.val() !== String(want)) {
            if (!has(want)) $("<option>").val(String(want)).text(String(want)).appendTo(el);
            el.val(String(want)).trigger("change");
          }
        } else if (el.attr("type") === "checkbox" && v === undefined && def.value !== undefined) {
          el.prop("checked", !!def.value).trigger("change");
        } else if (el.attr("type") === "number" && typeof v === "string" && v.trim() !== "" && isNaN(Number(v))) {
          el.attr("type", "text").val(v);
        }
        if (v === undefined) omitted[k] = guard.value(el);
      });
      guard.creds(node, prefix);
      guard.kept[node.id] = { omitted: omitted, lists: readLists ? JSON.stringify(readLists()) : "{}" };
      // Wider labels (the style below); lists open at their first row: editableList scrolls to
      // each added row in a timeout of its own (scrollOnAdd), this one runs after those.
      var form = $("#" + prefix + "-name").closest("form").addClass("otb-form");
      // Again a little later: on a loaded machine a list may still be laid out (and scrolled) after the first reset.
      [0, 100, 400].forEach(function (ms) { setTimeout(function () { form.find(".red-ui-editableList-container").scrollTop(0); }, ms); });
    },
    save: function (node, prefix, readLists) {
      var kept = guard.kept[node.id] || { omitted: {}, lists: "{}" };
      delete guard.kept[node.id];
      if (readLists) {
        var before = JSON.parse(kept.lists), now = readLists();
        Object.keys(now).forEach(function (k) { if (JSON.stringify(now[k]) !== JSON.stringify(before[k])) node[k] = now[k]; });
      }
      Object.keys(kept.omitted).forEach(function (k) {
        var el = $("#" + prefix + "-" + k);
        if (guard.value(el) === kept.omitted[k]) el.removeAttr("id");
      });
    },
    // The runtime answers {} for a node with no stored credentials (runtime api/flows.js,
    // getNodeCredentials), and the editor's Done then counts an empty password ("" with has_x
    // undefined) or an empty text credential ("" against undefined) as a change: Deploy lights up
    // although nothing was touched. An empty input there means "none stored": record it so, in the
    // loaded copy (credentials._) too, which the export compares against.
    creds: function (node, prefix) {
      var defs = node._def.credentials || {};
      var c = node.credentials = node.credentials || {};
      var loaded = c._ = c._ || {};
      Object.keys(defs).forEach(function (k) {
        var el = $("#" + prefix + "-" + k);
        if (el.length !== 1 || el.val() !== "") return;
        var key = defs[k].type === "password" ? "has_" + k : k;
        var none = defs[k].type === "password" ? false : "";
        if (c[key] === undefined) { c[key] = none; if (loaded[key] === undefined) loaded[key] = none; }
      });
    },
    cancel: function (node) { delete guard.kept[node.id]; },
    // A list cell's number, or its ${VAR} kept as written (Node-RED substitutes it at deploy).
    num: function (v) {
      var s = String(v == null ? "" : v).trim();
      return /^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(s) ? s : Number(v);
    },
    // A list row's select or number input shows any value, a ${VAR} included, and so keeps it.
    show: function (el, v) {
      if (v === undefined || v === null) return el;
      if (el.is("select") && el.find("option").filter(function () { return this.value === String(v); }).length === 0) {
        $("<option>").val(String(v)).text(String(v)).appendTo(el);
        el.attr("title", String(v)); // a narrow cell may cut it
      }
      if (el.attr("type") === "number" && isNaN(Number(v))) el.attr("type", "text");
      return el.val(v);
    }
  };
