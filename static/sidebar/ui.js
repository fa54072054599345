/*
 * Trustline sidebar: small behaviours htmx does not cover. No inline handlers, no eval.
 * - A server or network failure shows a message in #flash (4xx answers are rendered
 *   there by the server itself).
 * - #flash is cleared when the next request succeeds.
 * - #live tells whether live updates are flowing (the event stream is open).
 * - A live profile update (SSE event "profile") that is not newer than the panel shown
 *   is skipped: after the agent's own change the panel is already fresh, and swapping
 *   it again would close what the agent just opened. The answer to the agent's own
 *   change is swapped when it says what was done (a notice), unless it is older.
 */
(function () {
  "use strict";

  function flash(text) {
    var region = document.getElementById("flash");
    if (!region) {
      return;
    }
    region.textContent = "";
    if (text) {
      var p = document.createElement("p");
      p.className = "alert";
      p.textContent = text;
      region.appendChild(p);
    }
  }

  // The profile panel carries data-version (the customer's latest event id when it was
  // rendered). A panel that is not newer than the one shown is the same panel: skip it.
  function shownVersion(root) {
    var found = root.querySelector("[data-version]");
    return found ? Number(found.getAttribute("data-version")) : NaN;
  }

  function notNewer(incoming, root) {
    var shown = shownVersion(root);
    return incoming !== null && !isNaN(incoming) && !isNaN(shown) && incoming <= shown;
  }

  function versionOfHtml(html) {
    var found = /data-version="(\d+)"/.exec(html || "");
    return found ? Number(found[1]) : null;
  }

  function versionOfFragment(fragment) {
    var found = fragment && fragment.querySelector ? fragment.querySelector("[data-version]") : null;
    return found ? Number(found.getAttribute("data-version")) : null;
  }

  document.addEventListener("htmx:sseBeforeMessage", function (event) {
    if (event.detail.type === "profile" && notNewer(versionOfHtml(event.detail.data), event.target)) {
      event.preventDefault();
    }
  });

  // The answer to the agent's own change may say what was done (a .notice): the live
  // update of the same change can arrive first, and must not hide that message.
  function older(incoming, root) {
    var shown = shownVersion(root);
    return incoming !== null && !isNaN(incoming) && !isNaN(shown) && incoming < shown;
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    var html = event.detail.serverResponse || "";
    var stale = /class="notice"/.test(html) ? older : notNewer;
    if (target && target.id === "profile" && stale(versionOfHtml(html), target)) {
      event.detail.shouldSwap = false;
    }
  });

  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var target = event.detail.target;
    if (target && target.id === "profile" && notNewer(versionOfFragment(event.detail.fragment), target)) {
      event.detail.shouldSwap = false;
    }
  });

  function live(text, on) {
    var badge = document.getElementById("live");
    if (badge) {
      badge.hidden = false;
      badge.textContent = text;
      badge.className = on ? "live live--on" : "live live--off";
    }
  }

  document.addEventListener("htmx:sseOpen", function () {
    live("Live", true);
  });
  document.addEventListener("htmx:sseError", function () {
    live("Reconnecting…", false);
  });
  document.addEventListener("htmx:sseClose", function (event) {
    if (event.detail && event.detail.type === "message") {
      live("Not live", false);
    }
  });

  document.addEventListener("htmx:responseError", function (event) {
    if (event.detail.xhr && event.detail.xhr.status >= 500) {
      flash("Trustline could not do that (server error). Try again in a moment.");
    }
  });
  document.addEventListener("htmx:sendError", function () {
    flash("Trustline cannot be reached. Check your connection; nothing was lost.");
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var target = event.detail.target;
    if (event.detail.successful && !(target && target.id === "flash")) {
      flash("");
    }
  });
})();
