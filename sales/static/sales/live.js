/* Storefront live bits, no build step. Everything works without this file except:
   - the sale page's countdown, on the server's clock (offset measured from live.json),
     and the buy button turning on at the second the sale opens;
   - the ticket page following its place in the queue (without JS a meta refresh does it);
   - the checkout's payment deadline counting down;
   - "remind me" set or cancelled without leaving the page, and gone once the sale opens. */
(function () {
  "use strict";
  var offset = 0; // server clock minus browser clock, in ms
  // The page's words, in its language (shop/base.html writes them; English if missing).
  var WORDS = {live: "On sale now", scheduled: "Opens soon", sold_out: "Sold out",
               ended: "Ended", opens_in: "Opens in {t}", approx: " (approx.)",
               ends_in: "Ends in {t}", has_ended: "This sale has ended", left: "({t} left)",
               time_up: "(time is up)", days: "{d}d "};
  try {
    var given = JSON.parse(document.getElementById("live-words").textContent);
    Object.keys(given).forEach(function (k) { WORDS[k] = given[k]; });
  } catch (e) { /* no words on this page: English */ }
  function say(key, t) { return WORDS[key].replace("{t}", t); }

  function now() { return Date.now() + offset; }

  function span(ms) {
    if (ms < 0) ms = 0;
    var s = Math.floor(ms / 1000), d = Math.floor(s / 86400);
    var h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60), r = s % 60;
    var hms = [h, m, r].map(function (n) { return (n < 10 ? "0" : "") + n; }).join(":");
    return (d ? WORDS.days.replace("{d}", d) : "") + hms;
  }

  function getJSON(url) {
    var sent = Date.now();
    return fetch(url, {credentials: "same-origin", cache: "no-store"}).then(function (r) {
      return r.json().then(function (body) { return {body: body, sent: sent, got: Date.now()}; });
    });
  }


  function salePage(el) {
    var url = el.getAttribute("data-live");
    var starts = +el.getAttribute("data-starts-ms"), ends = +el.getAttribute("data-ends-ms");
    var status = el.querySelector("[data-sold-out]") ? "sold_out" : null, synced = false;
    var clock = el.querySelector("[data-countdown]"), buy = el.querySelector("[data-buy]");
    var statusEl = el.querySelector("[data-status]"), stockEl = el.querySelector("[data-stock]");

    function apply(state) {
      // A unit came back (an order went unpaid) while the page showed the sold-out panel,
      // which has no form: load the page again, with its buy button.
      if (status === "sold_out" && state.status === "live" &&
          el.querySelector("[data-sold-out]")) {
        window.location.reload();
        return;
      }
      status = state.status;
      if (statusEl) {
        statusEl.textContent = WORDS[status] || status;
        statusEl.className = "status s-" + status;
      }
      if (stockEl) stockEl.textContent = state.stock_left;
    }

    function refresh() {
      return getJSON(url).then(function (res) {
        var b = res.body;
        if (b.server_ms) {
          // The server answered somewhere between sending and receiving: assume the middle.
          offset = b.server_ms - (res.sent + res.got) / 2;
          synced = true;
          starts = Date.parse(b.starts_at); ends = Date.parse(b.ends_at);
          apply(b);
        }
      }).catch(function () { /* keep the last state; the next poll retries */ });
    }

    var openedFetched = false;
    function tick() {
      var t = now();
      if (t >= starts) dropReminder(el);
      if (t < starts) {
        clock.textContent = say("opens_in", span(starts - t)) + (synced ? "" : WORDS.approx);
        if (buy) { buy.disabled = true; buy.setAttribute("aria-disabled", "true"); }
      } else if (t < ends) {
        clock.textContent = status === "sold_out" ? WORDS.sold_out : say("ends_in", span(ends - t));
        if (buy) {
          buy.disabled = status === "sold_out";
          buy.removeAttribute("aria-disabled");
        }
        if (!openedFetched) {
          openedFetched = true;
          // Spread the rush: everyone refreshes the stock within a second of opening.
          setTimeout(refresh, Math.random() * 1000);
        }
      } else {
        clock.textContent = WORDS.has_ended;
        if (buy) buy.disabled = true;
      }
    }
    refresh().then(tick);
    setInterval(tick, 200);
    setInterval(refresh, 5000 + Math.random() * 2000);
  }

  function ticketPage(el) {
    var url = el.getAttribute("data-ticket");
    var pos = el.querySelector("[data-position]");
    function poll() {
      getJSON(url).then(function (res) {
        var b = res.body;
        if (b.status === "queued") {
          if (pos && b.position) pos.textContent = b.position;
          setTimeout(poll, 1500);
        } else if (b.status) {
          window.location.reload();
        } else {
          setTimeout(poll, 5000);
        }
      }).catch(function () { setTimeout(poll, 5000); });
    }
    setTimeout(poll, 1000);
  }

  function deadline(el) {
    var due = +el.getAttribute("data-deadline-ms");
    var skew = +el.getAttribute("data-server-ms") - Date.now();
    function tick() {
      var left = due - (Date.now() + skew);
      el.textContent = left > 0 ? say("left", span(left)) : WORDS.time_up;
    }
    tick();
    setInterval(tick, 1000);
  }

  // The sale list's cards: each counts down to its own opening or end, on the clock of the
  // server that rendered the list (no request per card).
  function cards(el) {
    var skew = +el.getAttribute("data-server-ms") - Date.now();
    var all = el.querySelectorAll("[data-card-starts-ms]");
    function tick() {
      var t = Date.now() + skew;
      all.forEach(function (card) {
        var clock = card.querySelector("[data-card-countdown]");
        if (!clock) return;
        var starts = +card.getAttribute("data-card-starts-ms");
        var ends = +card.getAttribute("data-card-ends-ms");
        if (t >= starts) dropReminder(card);
        clock.textContent = t < starts ? say("opens_in", span(starts - t))
          : t < ends ? say("ends_in", span(ends - t)) : WORDS.has_ended;
      });
    }
    tick();
    setInterval(tick, 1000);
  }

  // "Remind me" is for a sale that has not opened: once it has, the button goes.
  function dropReminder(within) {
    var remind = within.querySelector("[data-remind]");
    if (remind) remind.parentNode.removeChild(remind);
  }

  // The "remind me" form, sent in the background; the answer's button takes its place. If
  // anything goes wrong the form is sent as a plain form, and the page says why.
  function remindForm(form) {
    form.addEventListener("submit", function (event) {
      if (!window.fetch || !window.FormData) return;
      event.preventDefault();
      var button = form.querySelector("button");
      if (button) button.disabled = true;
      fetch(form.action, {method: "POST", body: new FormData(form), credentials: "same-origin",
                          headers: {"Accept": "application/json"}}).then(function (r) {
        return r.json().then(function (body) { return {ok: r.ok, body: body}; });
      }).then(function (res) {
        if (!res.ok || !res.body.html) { form.submit(); return; }
        var holder = document.createElement("div");
        holder.innerHTML = res.body.html.trim();
        var fresh = holder.firstElementChild;
        form.parentNode.replaceChild(fresh, form);
        if (fresh.tagName === "FORM") remindForm(fresh);
        var focus = fresh.querySelector("button");
        if (focus) focus.focus();
      }).catch(function () { form.submit(); });
    });
  }

  document.querySelectorAll("form[data-remind]").forEach(remindForm);
  document.querySelectorAll("[data-live]").forEach(salePage);
  document.querySelectorAll("[data-cards]").forEach(cards);
  document.querySelectorAll("[data-ticket]").forEach(ticketPage);
  document.querySelectorAll("[data-deadline-ms]").forEach(deadline);
})();
