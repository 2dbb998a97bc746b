/* docs-proxy hub: version menu, version notice and search in every page of a project (docs/hub.md).
   No third-party requests, no globals; a page opts out with <meta name="docs-hub" content="off"> and
   places the hub with <div data-docs-hub-placement></div> (else a bar fixed at the bottom). */
(function () {
  "use strict";
  if (window.top !== window.self || window.__docsHub) return; // never inside a frame, never twice
  window.__docsHub = true;
  var doc = document;
  function meta(name) {
    var element = doc.querySelector('meta[name="' + name + '"]');
    return element ? element.getAttribute("content") : null;
  }
  if ((meta("docs-hub") || "").toLowerCase() === "off") return;
  var project = meta("docs-hub-project"), version = meta("docs-hub-version"), api = meta("docs-hub-api");
  if (!project || !version || !api) return;
  var script = doc.currentScript || doc.querySelector('script[src*="/_/hub/hub.js"]');

  function el(tag, attrs, children) {
    var node = doc.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === "text") node.textContent = attrs[name];
      else if (attrs[name] !== null && attrs[name] !== undefined) node.setAttribute(name, attrs[name]);
    });
    (children || []).forEach(function (child) {
      if (child) node.appendChild(typeof child === "string" ? doc.createTextNode(child) : child);
    });
    return node;
  }
  function safeUrl(url) {
    // Only web and mail links from the portal entry: never javascript: or data:.
    return /^(https?:|mailto:|\/)/i.test(url || "") ? url : null;
  }
  function label(entry) {
    return entry.name + (entry.aliases && entry.aliases.length ? " (" + entry.aliases.join(", ") + ")" : "");
  }

  function banner(ctx) {
    var kind = ctx.version.notice, def = ctx["default"];
    if (!kind) return null;
    var stable = def && def.aliases.indexOf("stable") >= 0 ? "The stable version is " : "The default version is ";
    var words = {
      outdated: "You are reading " + version + ", not the latest documentation. ",
      prerelease: "You are reading " + version + ", a prerelease. ",
      development: "You are reading " + version + ", a development version. ",
      hidden: "You are reading " + version + ", a version that is no longer listed. ",
      preview: "You are reading " + version + ", a preview: a temporary build" +
               (ctx.version.expires ? ", deleted after " + ctx.version.expires.slice(0, 10) : "") + ". "
    }[kind];
    return el("div", {"class": "docs-hub-banner docs-hub-" + kind, "data-docs-hub": "banner", role: "note"}, [
      words,
      def ? stable : null,
      def ? el("a", {href: def.url, text: def.name}) : null,
      def ? "." : null
    ]);
  }

  function menu(ctx) {
    var list = el("ul", {"class": "docs-hub-menu", id: "docs-hub-menu", hidden: ""});
    ctx.versions.forEach(function (entry) {
      list.appendChild(el("li", {}, [el("a", {href: entry.url, "aria-current": entry.current ? "page" : null,
                                              text: label(entry)})]));
    });
    var button = el("button", {type: "button", "class": "docs-hub-button", "aria-haspopup": "true",
                               "aria-expanded": "false", "aria-controls": "docs-hub-menu",
                               text: ctx.project.title + " " + version + " \u25be"});
    function toggle(open) {
      if (open) list.removeAttribute("hidden"); else list.setAttribute("hidden", "");
      button.setAttribute("aria-expanded", open ? "true" : "false");
    }
    button.addEventListener("click", function () { toggle(list.hasAttribute("hidden")); });
    list.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { toggle(false); button.focus(); }
    });
    doc.addEventListener("click", function (event) {
      if (!wrap.contains(event.target)) toggle(false);
    });
    // The menu is the button and its list: clicking it opens the list of links, one per version.
    var wrap = el("div", {"class": "docs-hub-versions", "data-docs-hub": "menu"}, [button, list]);
    return wrap;
  }

  function links(ctx) {
    var p = ctx.project, items = [];
    if (p.owner) items.push(el("span", {"class": "docs-hub-owner", text: p.owner}));
    var contact = p.contact && (/@/.test(p.contact) && !/:/.test(p.contact) ? "mailto:" + p.contact : p.contact);
    if (safeUrl(contact)) items.push(el("a", {href: safeUrl(contact), text: "Contact"}));
    else if (p.contact) items.push(el("span", {text: p.contact}));
    if (safeUrl(p.repo)) items.push(el("a", {href: safeUrl(p.repo), text: "Source"}));
    items.push(el("a", {href: p.url, text: "All versions"}));
    return el("div", {"class": "docs-hub-links", "data-docs-hub": "links"}, items);
  }

  /* Search as you type: this version first, all projects with the switch; arrows, Enter, Escape. */
  var dialog = null, lastFocus = null;
  function openSearch(ctx) {
    if (dialog) { dialog.input.focus(); return; }
    lastFocus = doc.activeElement;
    var input = el("input", {type: "search", "data-docs-hub": "search", role: "combobox", "aria-expanded": "true",
                             "aria-controls": "docs-hub-results", "aria-autocomplete": "list", autocomplete: "off",
                             placeholder: "Search " + ctx.project.title + " " + version, "aria-label": "Search"});
    var scope = el("input", {type: "checkbox", id: "docs-hub-all"});
    // On a project's own host only that project can be searched from the page (docs/security.md):
    // every project is searched on the main host's search page, a link.
    var allProjects = ctx.search.all_projects !== false;
    var everywhere = allProjects ? el("label", {"for": "docs-hub-all"}, [scope, " All projects"]) :
      el("a", {href: ctx.search.page, text: "All projects"});
    var results = el("ul", {id: "docs-hub-results", role: "listbox", "class": "docs-hub-results",
                            "aria-label": "Results"});
    var status = el("p", {"class": "docs-hub-status", role: "status"});
    var box = el("div", {"class": "docs-hub-dialog", role: "dialog", "aria-modal": "true", "aria-label": "Search"}, [
      el("div", {"class": "docs-hub-searchbar"}, [input, everywhere]),
      status, results]);
    var backdrop = el("div", {"class": "docs-hub-backdrop", "data-docs-hub": "dialog"}, [box]);
    var active = -1, timer = null, serial = 0;
    function close() {
      backdrop.remove();
      dialog = null;
      if (lastFocus && lastFocus.focus) lastFocus.focus();
    }
    function highlight(index) {
      var options = results.querySelectorAll("[role=option]");
      if (!options.length) return;
      active = (index + options.length) % options.length;
      options.forEach(function (option, i) { option.setAttribute("aria-selected", i === active ? "true" : "false"); });
      input.setAttribute("aria-activedescendant", options[active].id);
      options[active].scrollIntoView({block: "nearest"});
    }
    function run() {
      var q = input.value.trim(), mine = ++serial;
      if (!allProjects) everywhere.href = ctx.search.page + "?q=" + encodeURIComponent(q);
      if (!q) { results.textContent = ""; status.textContent = ""; return; }
      var url = ctx.search.api + "?q=" + encodeURIComponent(q) +
        (scope.checked ? "" : "&project=" + encodeURIComponent(project) + "&version=" + encodeURIComponent(version));
      fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}}).then(function (response) {
        return response.ok ? response.json() : Promise.reject(response.status);
      }).then(function (answer) {
        if (mine !== serial) return;
        results.textContent = "";
        active = -1;
        answer.results.forEach(function (hit, i) {
          var where = scope.checked ? hit.project + " " + hit.version + " \u00b7 " : "";
          results.appendChild(el("li", {role: "option", id: "docs-hub-hit-" + i, "aria-selected": "false"}, [
            el("a", {href: hit.url, tabindex: "-1"}, [
              el("strong", {text: hit.heading || hit.title}),
              el("span", {"class": "docs-hub-where", text: where + hit.title}),
              el("span", {"class": "docs-hub-snippet", text: hit.snippet})])]));
        });
        status.textContent = answer.total ? answer.total + " results" : "No results";
        if (answer.results.length) highlight(0);
      }).catch(function () {
        if (mine === serial) status.textContent = "Search is unavailable right now.";
      });
    }
    input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(run, 150); });
    scope.addEventListener("change", run);
    box.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { event.preventDefault(); close(); }
      else if (event.key === "ArrowDown") { event.preventDefault(); highlight(active + 1); }
      else if (event.key === "ArrowUp") { event.preventDefault(); highlight(active - 1); }
      else if (event.key === "Enter" && event.target === input && active >= 0) {
        event.preventDefault();
        var link = results.querySelectorAll("[role=option] a")[active];
        if (link) { close(); window.location.href = link.href; }
      } else if (event.key === "Tab") {
        event.preventDefault(); // focus stays in the dialog: the input and the switch
        (doc.activeElement === input ? (allProjects ? scope : everywhere) : input).focus();
      }
    });
    results.addEventListener("click", function (event) {
      if (event.target.closest("a")) close();
    });
    backdrop.addEventListener("mousedown", function (event) { if (event.target === backdrop) close(); });
    doc.body.appendChild(backdrop);
    dialog = {input: input};
    input.focus();
  }

  function isTyping(target) {
    var tag = (target && target.tagName || "").toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || (target && target.isContentEditable);
  }

  function render(ctx) {
    var placement = doc.querySelector("[data-docs-hub-placement]");
    var searchButton = el("button", {type: "button", "class": "docs-hub-button", "data-docs-hub": "search-button",
                                     "aria-keyshortcuts": "/ Control+K", text: "Search"},
                          [el("kbd", {text: "/"})]);
    searchButton.addEventListener("click", function () { openSearch(ctx); });
    var root = el("nav", {"class": "docs-hub" + (placement ? " docs-hub-placed" : " docs-hub-bar"),
                          "data-docs-hub": "root", "aria-label": "Documentation versions and search"},
                  [banner(ctx), el("div", {"class": "docs-hub-tools"}, [links(ctx), menu(ctx), searchButton])]);
    if (placement) {
      placement.appendChild(root);
    } else {
      // Fixed to the bottom edge. A spacer as tall as the bar after <body> (not in it, where a flex or
      // grid body would give it room taken from the page) lets the page's end scroll above the bar.
      var spacer = el("div", {"data-docs-hub": "spacer", "aria-hidden": "true", "class": "docs-hub-spacer"});
      doc.documentElement.appendChild(spacer);
      doc.body.appendChild(root);
      var fit = function () { spacer.style.height = root.getBoundingClientRect().height + "px"; };
      fit();
      if (window.ResizeObserver) new ResizeObserver(fit).observe(root);
    }
    window.addEventListener("keydown", function (event) {
      var wantsSearch = (event.key === "/" && !event.ctrlKey && !event.metaKey && !event.altKey && !isTyping(event.target)) ||
        ((event.ctrlKey || event.metaKey) && (event.key === "k" || event.key === "K"));
      if (!wantsSearch) return;
      // Captured before the theme's own shortcut for the same key, which would open a second search.
      event.preventDefault();
      event.stopImmediatePropagation();
      openSearch(ctx);
    }, true);
  }

  function start() {
    var page = meta("docs-hub-page") || "";
    var css = el("link", {rel: "stylesheet", href: (script && script.src || "").replace(/hub\.js(\?|$)/, "hub.css$1")});
    var styled = new Promise(function (resolve) {
      css.addEventListener("load", resolve);
      css.addEventListener("error", resolve);
    });
    doc.head.appendChild(css);
    var context = fetch(api + "?page=" + encodeURIComponent(page), {credentials: "same-origin",
                                                                    headers: {Accept: "application/json"}})
      .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); });
    Promise.all([context, styled]).then(function (values) { render(values[0]); }).catch(function () {});
  }
  if (doc.readyState === "loading") doc.addEventListener("DOMContentLoaded", start); else start();
})();
