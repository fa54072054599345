/*
 * Trustline sidebar: host adapters. See docs/sidebar.md.
 *
 * The host (helpdesk, CRM) tells the sidebar which customer is in view. That is only a
 * hint: the sidebar asks the server, which resolves the host's contact id through its
 * identity mapping for the agent's signed session. Messages are accepted only from the
 * parent frame and only from the origins in TRUSTLINE_HOST_ORIGINS.
 *
 * Chatwoot Dashboard App: we post the string "chatwoot-dashboard-app:fetch-info" to the
 * parent; Chatwoot answers (and later announces changes) with a JSON *string*
 * {"event": "appContext", "data": {"conversation": ..., "contact": {"id": ...}, ...}}.
 *
 * Generic protocol (objects, not strings):
 *   host -> sidebar  {"type": "trustline:context", "customer": "<external id>", "theme": "light"|"dark"}
 *   sidebar -> host  {"type": "trustline:ready", "version": 1}
 */
(function () {
  "use strict";

  function meta(name) {
    var el = document.querySelector('meta[name="' + name + '"]');
    return el ? el.getAttribute("content") || "" : "";
  }

  var origins = meta("trustline-host-origins").split(/\s+/).filter(Boolean);
  var sidebarUrl = meta("trustline-sidebar-url") || "/sidebar";

  function shows(externalId) {
    var main = document.getElementById("main");
    if (!main) {
      return false;
    }
    var ids = (main.getAttribute("data-host-ids") || "").split(/\s+/);
    return ids.indexOf(externalId) !== -1 || main.getAttribute("data-external-id") === externalId;
  }

  function select(externalId) {
    if (!externalId || shows(externalId) || !window.htmx) {
      return;
    }
    window.htmx.ajax("GET", sidebarUrl + "?external_id=" + encodeURIComponent(externalId), {
      target: "#main",
      swap: "outerHTML"
    });
  }

  function setTheme(theme) {
    if (theme === "light" || theme === "dark") {
      document.documentElement.setAttribute("data-theme", theme);
    }
  }

  function contactId(value) {
    if (typeof value === "number" && isFinite(value)) {
      return String(value);
    }
    return typeof value === "string" && value.length > 0 && value.length <= 200 ? value : null;
  }

  function onChatwoot(text) {
    var message;
    try {
      message = JSON.parse(text);
    } catch (e) {
      return;
    }
    if (message && message.event === "appContext" && message.data && message.data.contact) {
      var id = contactId(message.data.contact.id);
      if (id) {
        select(id);
      }
    }
  }

  function onGeneric(message) {
    if (message.type !== "trustline:context") {
      return;
    }
    var id = contactId(message.customer);
    if (id) {
      select(id);
    }
    setTheme(message.theme);
  }

  window.addEventListener("message", function (event) {
    // A hint from anyone else (another frame, another site) is ignored.
    if (event.source !== window.parent || origins.indexOf(event.origin) === -1) {
      return;
    }
    if (typeof event.data === "string") {
      onChatwoot(event.data);
    } else if (event.data && typeof event.data === "object") {
      onGeneric(event.data);
    }
  });

  if (window.parent !== window) {
    origins.forEach(function (origin) {
      window.parent.postMessage("chatwoot-dashboard-app:fetch-info", origin);
      window.parent.postMessage({ type: "trustline:ready", version: 1 }, origin);
    });
  }
})();
