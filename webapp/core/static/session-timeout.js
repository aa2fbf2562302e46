/* Automatic sign-off, the page's side (HIPAA 164.312(a)(2)(iii)).
 *
 * The server ends a session after the practice's idle time; this script warns a
 * minute before and offers "Stay signed in" (POST /session/keepalive). It never
 * trusts its own clock alone: before warning and before leaving it asks the
 * server how long is really left (GET /session/status, which does not count as
 * activity), so activity in another tab, or the server's once-a-minute refresh
 * of its idle clock, cannot make the two disagree. When the server says the
 * session is over, the page goes to the sign-in page.
 */
(function () {
  "use strict";

  var body = document.body;
  var idleSeconds = parseInt(body.getAttribute("data-idle-seconds") || "", 10);
  if (!idleSeconds) {
    return;
  }
  var WARN_SECONDS = 60;
  var statusUrl = body.getAttribute("data-session-status-url");
  var keepaliveUrl = body.getAttribute("data-session-keepalive-url");
  var loginUrl = body.getAttribute("data-login-url");
  var tokenTag = document.querySelector('meta[name="csrf-token"]');
  var dialog = document.getElementById("session-warning");
  var countdown = document.getElementById("session-warning-seconds");
  var stay = document.getElementById("session-stay");

  var deadline = Date.now() + 1000 * parseInt(body.getAttribute("data-session-seconds-left") || idleSeconds, 10);
  var timer = null;
  var ticker = null;

  function secondsLeft() {
    return Math.max(0, Math.round((deadline - Date.now()) / 1000));
  }

  function leave() {
    window.location.assign(loginUrl);
  }

  function hideWarning() {
    if (ticker) {
      clearInterval(ticker);
      ticker = null;
    }
    if (dialog && dialog.open) {
      dialog.close();
    }
  }

  function tick() {
    if (countdown) {
      countdown.textContent = String(secondsLeft());
    }
    if (Date.now() >= deadline) {
      clearInterval(ticker);
      ticker = null;
      check();
    }
  }

  function showWarning() {
    tick();
    if (dialog && !dialog.open) {
      if (typeof dialog.showModal === "function") {
        dialog.showModal();
      } else {
        dialog.setAttribute("open", "");
      }
      if (stay) {
        stay.focus();
      }
    }
    if (!ticker) {
      ticker = setInterval(tick, 1000);
    }
  }

  function schedule() {
    clearTimeout(timer);
    var wait = deadline - Date.now() - WARN_SECONDS * 1000;
    timer = setTimeout(check, Math.max(0, wait));
  }

  // Learn the server's answer; null means signed out (a redirect, 401 or a network error).
  function ask(request) {
    return fetch(request.url, {
      method: request.method,
      credentials: "same-origin",
      redirect: "manual",
      cache: "no-store",
      headers: request.headers
    }).then(function (response) {
      return response.ok ? response.json() : null;
    }).catch(function () {
      return null;
    });
  }

  function adopt(answer) {
    if (!answer || typeof answer.seconds_left !== "number") {
      leave();  // the server has signed this browser out
      return;
    }
    if (answer.seconds_left <= 0) {
      clearTimeout(timer);
      timer = setTimeout(check, 1000);  // over this very moment: the next answer is "gone"
      return;
    }
    deadline = Date.now() + answer.seconds_left * 1000;
    if (answer.seconds_left > WARN_SECONDS + 1) {
      hideWarning();
      schedule();
    } else {
      showWarning();
    }
  }

  function check() {
    ask({url: statusUrl, method: "GET", headers: {"Accept": "application/json"}}).then(adopt);
  }

  function keepAlive() {
    var headers = {"Accept": "application/json"};
    if (tokenTag) {
      headers["X-CSRFToken"] = tokenTag.getAttribute("content");
    }
    ask({url: keepaliveUrl, method: "POST", headers: headers}).then(adopt);
  }

  if (stay) {
    stay.addEventListener("click", keepAlive);
  }
  if (dialog) {
    // Escape closes a modal dialog; treat it as "stay", the friendlier reading.
    dialog.addEventListener("cancel", function (event) {
      event.preventDefault();
      keepAlive();
    });
  }
  schedule();
}());
