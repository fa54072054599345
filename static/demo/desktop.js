/*
 * The demo agent desktop: a fake helpdesk that behaves like Chatwoot towards the
 * Trustline frame. Switching conversations posts a Chatwoot `appContext` message (a JSON
 * string) to the frame, and the frame's "chatwoot-dashboard-app:fetch-info" request is
 * answered the same way. Only messages from our own frame and origin are answered.
 */
(function () {
  "use strict";

  var frame = document.getElementById("trustline");
  var origin = window.location.origin;
  var links = Array.prototype.slice.call(document.querySelectorAll(".conversation-link"));
  var secondWindow = document.getElementById("second-window");

  function current() {
    return document.querySelector(".conversation:not([hidden])");
  }

  function appContext(article) {
    return JSON.stringify({
      event: "appContext",
      data: {
        conversation: {
          id: Number(article.getAttribute("data-conversation-id")),
          meta: { sender: { id: Number(article.getAttribute("data-contact-id")) } }
        },
        contact: {
          id: Number(article.getAttribute("data-contact-id")),
          name: article.getAttribute("data-name"),
          email: article.getAttribute("data-email")
        },
        currentAgent: { id: 1, name: "Demo agent" }
      }
    });
  }

  function send(article) {
    if (frame && frame.contentWindow && article) {
      frame.contentWindow.postMessage(appContext(article), origin);
    }
  }

  function select(customerId) {
    var chosen = null;
    document.querySelectorAll(".conversation").forEach(function (article) {
      var match = article.getAttribute("data-customer") === customerId;
      article.hidden = !match;
      if (match) {
        chosen = article;
      }
    });
    links.forEach(function (link) {
      if (link.getAttribute("data-customer") === customerId) {
        link.setAttribute("aria-current", "page");
      } else {
        link.removeAttribute("aria-current");
      }
    });
    if (chosen) {
      if (secondWindow) {
        secondWindow.href = chosen.getAttribute("data-second-window");
      }
      send(chosen);
    }
  }

  links.forEach(function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      select(link.getAttribute("data-customer"));
      window.history.replaceState(null, "", link.href);
    });
  });

  window.addEventListener("message", function (event) {
    if (!frame || event.source !== frame.contentWindow || event.origin !== origin) {
      return;
    }
    if (event.data === "chatwoot-dashboard-app:fetch-info") {
      send(current());
    }
  });
})();
