// calbook booking page: loads the Cal.com embed configured in #calbook-embed and turns its
// events into messages on the page. The events only change what the page says; bookings are
// recorded from Cal.com's signed webhook.
(function () {
  "use strict";
  var node = document.getElementById("calbook-embed");
  if (!node) return;
  var cfg = JSON.parse(node.textContent);
  var statusBox = document.getElementById("booking-status");
  var continueBox = document.getElementById("booking-continue");

  function say(kind, text) {
    statusBox.hidden = false;
    statusBox.className = "notice " + kind;
    statusBox.setAttribute("role", kind === "error" ? "alert" : "status");
    statusBox.textContent = text;
    statusBox.dataset.state = kind;
  }

  function when(iso) {
    if (!iso) return "";
    var d = new Date(iso);
    if (isNaN(d.getTime())) return "";
    return d.toLocaleString(undefined, { dateStyle: "full", timeStyle: "short" });
  }

  // `bookingSuccessfulV2` carries `startTime`; the deprecated `bookingSuccessful` (the only one
  // a Cal.com older than the V2 events sends; current Cal.com sends both) carries `date` and
  // `booking.startTime`.
  function booked(verb) {
    return function (e) {
      var data = (e && e.detail && e.detail.data) || {};
      var at = when(data.startTime || data.date || (data.booking && data.booking.startTime));
      // An event that needs the host's confirmation: V2 says `status: "PENDING"`, the older
      // event `confirmed: false`. Its confirmation email only comes once the host accepts.
      if (data.status === "PENDING" || data.confirmed === false) {
        say("ok", "Your request" + (at ? " for " + at : "") + " is sent. The host confirms it " +
          "shortly; you will get an email with a calendar invite once it is confirmed.");
      } else {
        say("ok", "Your meeting is " + verb + (at ? " for " + at : "") +
          ". A confirmation email with a calendar invite is on its way.");
      }
      if (continueBox) continueBox.hidden = false;
    };
  }

  // The Cal.com loader (the pattern of Cal.com's embed snippet), with a failure message when the
  // script cannot be loaded.
  (function (C, A, L) {
    var p = function (a, ar) { a.q.push(ar); };
    var d = C.document;
    C.Cal = C.Cal || function () {
      var cal = C.Cal;
      var ar = arguments;
      if (!cal.loaded) {
        cal.ns = {};
        cal.q = cal.q || [];
        var s = d.createElement("script");
        s.src = A;
        // Offline, or Cal.com unreachable: one message (the "Loading…" placeholder goes) with a
        // plain link to the same event on Cal.com itself.
        s.onerror = function () {
          var placeholder = d.querySelector("#cal-inline > .loading");
          if (placeholder) placeholder.remove();
          say("error", "The booking calendar could not be loaded. Please try again later, or ");
          var a = d.createElement("a");
          a.href = cfg.origin + "/" + cfg.link;
          a.textContent = "book on Cal.com directly";
          statusBox.appendChild(a);
          statusBox.appendChild(d.createTextNode("."));
        };
        // The embed shows its own loading skeleton from here on.
        s.onload = function () {
          var placeholder = d.querySelector("#cal-inline > .loading");
          if (placeholder) placeholder.remove();
        };
        d.head.appendChild(s);
        cal.loaded = true;
      }
      if (ar[0] === L) {
        var api = function () { p(api, arguments); };
        var namespace = ar[1];
        api.q = api.q || [];
        if (typeof namespace === "string") {
          cal.ns[namespace] = cal.ns[namespace] || api;
          p(cal.ns[namespace], ar);
          p(cal, ["initNamespace", namespace]);
        } else p(cal, ar);
        return;
      }
      p(cal, ar);
    };
  })(window, cfg.script_url, "init");

  var config = { layout: cfg.layout };
  if (cfg.theme !== "auto") config.theme = cfg.theme;
  if (cfg.prefill.name) config.name = cfg.prefill.name;
  if (cfg.prefill.email) config.email = cfg.prefill.email;
  if (cfg.prefill.client_id) config["metadata[client_id]"] = cfg.prefill.client_id;
  if (cfg.prefill.client_proof) config["metadata[client_proof]"] = cfg.prefill.client_proof;

  var ui = { hideEventTypeDetails: false, layout: cfg.layout };
  if (cfg.theme !== "auto") ui.theme = cfg.theme;
  if (cfg.brand_color) {
    ui.styles = { branding: { brandColor: cfg.brand_color } };
    ui.cssVarsPerTheme = { light: { "cal-brand": cfg.brand_color }, dark: { "cal-brand": cfg.brand_color } };
  }

  Cal("init", "calbook", { origin: cfg.origin });
  Cal.ns.calbook("inline", { elementOrSelector: "#cal-inline", calLink: cfg.link, config: config });
  Cal.ns.calbook("ui", ui);
  ["bookingSuccessfulV2", "bookingSuccessful"].forEach(function (action) {
    Cal.ns.calbook("on", { action: action, callback: booked("booked") });
  });
  ["rescheduleBookingSuccessfulV2", "rescheduleBookingSuccessful"].forEach(function (action) {
    Cal.ns.calbook("on", { action: action, callback: booked("rescheduled") });
  });
  Cal.ns.calbook("on", {
    action: "linkFailed",
    callback: function (e) {
      var code = e && e.detail && e.detail.data && e.detail.data.code;
      say("error", "The booking calendar could not be shown" + (code ? " (error " + code + ")" : "") +
        ". Please reload the page or try again later.");
    }
  });
})();
