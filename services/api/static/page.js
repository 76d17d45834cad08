/* The audition page (services/api/audition_routes.py): sign in with a token, list batches and their cues (polled
   while a batch runs), submit a brief, open a delivered cue in the report's audition room (room.js), approve it or
   leave a note. The token stays in this tab's sessionStorage and leaves only in the Authorization header of fetch:
   audio comes as bytes (the room decodes them; the <audio> player gets a blob: URL), never as a URL with a token.
   Everything from the service goes into the page as text, except the room's HTML, which the service escapes. */
(function () {
  "use strict";
  var TOKEN_KEY = "cues.token";
  var POLL_MS = 1500; // a short cue takes seconds: each state seen, and 40 requests a minute of a token's 120
  var RETRY_MS = 5000; // after a 429 or a 5xx: the limit refills, the store comes back
  var RUNNING = {accepted: true, running: true}; // the batch states that change on their own

  var token = sessionStorage.getItem(TOKEN_KEY);
  var batchId = null, cueId = null, room = null, pollTimer = null;
  var shownBatch = null; // the batch view's last answer: a cue opened from it can switch to its brief's other cues
  var blobs = {}; // file URL → Promise of its Blob, per cue view: the room and the player share one download
  var objectUrls = [];

  function $(id) { return document.getElementById(id); }
  function text(element, value) { element.textContent = value == null ? "" : String(value); return element; }
  function make(tag, value, className) {
    var element = text(document.createElement(tag), value);
    if (className) element.className = className;
    return element;
  }

  // --- talking to the service ----------------------------------------------------------------------------------

  // The one error body ({"error": {"code", "message", "details"}}) as an Error; a 401 signs out with its message.
  function failure(response) {
    return response.text().then(function (body) {
      var error = null;
      try { error = JSON.parse(body).error; } catch (ignored) { /* not ours: a proxy's page */ }
      error = error || {code: "http_" + response.status, message: response.status + " " + response.statusText};
      var thrown = new Error(error.message);
      thrown.status = response.status;
      thrown.code = error.code;
      thrown.details = error.details || [];
      if (response.status === 401) signOut(error.message);
      throw thrown;
    });
  }

  function authorized(url, options) {
    options = options || {};
    var headers = Object.assign({}, options.headers || {}, {Authorization: "Bearer " + token});
    return fetch(url, {method: options.method || "GET", headers: headers, body: options.body, cache: "no-store",
                       credentials: "omit"})
      .then(function (response) { return response.ok ? response : failure(response); });
  }

  function call(url, options) {
    return authorized(url, options).then(function (response) {
      return response.status === 204 ? null : response.json();
    });
  }

  function fileBlob(url) {
    if (!blobs[url]) {
      blobs[url] = authorized(url).then(function (response) { return response.blob(); });
      blobs[url].catch(function () { delete blobs[url]; }); // a failed download may be asked for again
    }
    return blobs[url];
  }
  // The room fetches its files through this: the same bytes, the bearer header sent.
  window.cuesAudition.fetch = function (url) {
    return fileBlob(url).then(function (blob) { return new Response(blob); });
  };

  // --- signing in and out --------------------------------------------------------------------------------------

  function signIn(candidate) {
    token = candidate;
    text($("login-error"), "");
    return call("/audition/session").then(function (who) {
      sessionStorage.setItem(TOKEN_KEY, token);
      showApp(who.name);
    }, function (error) {
      if (error.status !== 401) signOut("could not sign in: " + error.message);
    });
  }

  function signOut(message) {
    token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    clearTimeout(pollTimer);
    closeCue();
    batchId = shownBatch = null;
    $("batches").replaceChildren();
    $("batch-view").hidden = true;
    $("app").hidden = true;
    $("sign-out").hidden = true;
    text($("who"), "");
    $("login").hidden = false;
    text($("login-error"), message || "");
    $("token").focus();
  }

  function showApp(name) {
    text($("who"), "signed in as " + name);
    $("login").hidden = true;
    $("sign-out").hidden = false;
    $("app").hidden = false;
    route();
    poll();
  }

  $("login-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var field = $("token"), candidate = field.value.trim();
    field.value = ""; // the token is not left in the page
    if (candidate) signIn(candidate);
  });
  $("sign-out").addEventListener("click", function () { signOut(""); });

  // --- batches -------------------------------------------------------------------------------------------------

  function stateBadge(state) { return make("span", state, "state " + state); }

  function showBatches(batches) {
    var list = $("batches");
    list.replaceChildren.apply(list, batches.map(function (batch) {
      var item = make("li", batch.batch_id + " ");
      item.appendChild(stateBadge(batch.state));
      if (batch.batch_id === batchId) item.className = "on";
      item.addEventListener("click", function () { location.hash = "#batch/" + encodeURIComponent(batch.batch_id); });
      return item;
    }));
    text($("batches-status"), batches.length ? "" : "no batches yet: submit a brief");
  }

  function showBatch(batch) {
    if (batch.batch_id !== batchId) return;
    var view = $("batch-view");
    shownBatch = batch;
    view.hidden = false;
    text(view.querySelector(".batch-id"), batch.batch_id);
    view.querySelector(".state").replaceWith(stateBadge(batch.state));
    text(view.querySelector(".times"), "created " + batch.created + " · updated " + batch.updated +
         (batch.reason ? " · " + batch.reason : ""));
    var rows = batch.cues.map(function (cue) {
      var row = document.createElement("tr"), name = document.createElement("td");
      if (cue.state === "delivered") {
        var link = make("a", cue.cue_id);
        link.href = "#cue/" + encodeURIComponent(cue.cue_id);
        name.appendChild(link);
      } else {
        text(name, cue.cue_id);
      }
      var state = document.createElement("td");
      state.appendChild(stateBadge(cue.state));
      row.append(name, make("td", cue.brief_id), state, make("td", cue.reason || ""));
      return row;
    });
    var body = view.querySelector("tbody");
    body.replaceChildren.apply(body, rows);
  }

  function later(ms) { if (token) pollTimer = setTimeout(poll, ms); }

  // One request a round: GET /v1/batches has every batch of the caller with its cues, so the open batch is drawn
  // from it; one named in the address but not listed (unknown, or another caller's) is asked for, to say why.
  // Rounds go on while a batch runs, and after a refusal that passes (429, 5xx).
  function poll() {
    clearTimeout(pollTimer);
    if (!token) return Promise.resolve();
    return call("/v1/batches").then(function (body) {
      showBatches(body.batches);
      var open = body.batches.filter(function (batch) { return batch.batch_id === batchId; })[0];
      if (open) showBatch(open);
      else if (batchId) showMissingBatch(batchId);
      if (body.batches.some(function (batch) { return RUNNING[batch.state]; })) later(POLL_MS);
    }, function (error) {
      if (!token) return;
      text($("batches-status"), "could not list batches: " + error.message);
      if (error.status === 429 || error.status >= 500) later(RETRY_MS);
    });
  }

  function showMissingBatch(id) {
    call("/v1/batches/" + encodeURIComponent(id)).then(showBatch, function (error) {
      if (!token || id !== batchId) return;
      var view = $("batch-view");
      view.hidden = false;
      text(view.querySelector(".batch-id"), id);
      text(view.querySelector(".times"), error.message);
      view.querySelector("tbody").replaceChildren();
    });
  }

  $("submit-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var problems = $("brief-problems"), status = $("submit-status");
    problems.replaceChildren();
    text(status, "submitting…");
    call("/v1/batches", {method: "POST", headers: {"Content-Type": "application/yaml"}, body: $("brief").value})
      .then(function (accepted) {
        text(status, "accepted: " + accepted.batch_id);
        location.hash = "#batch/" + encodeURIComponent(accepted.batch_id);
        if (batchId === accepted.batch_id) poll(); // the same briefs again: the same batch, no hashchange
      }, function (error) {
        text(status, error.message);
        problems.replaceChildren.apply(problems, error.details.map(function (detail) {
          var item = document.createElement("li");
          item.append(make("code", detail.path || "(brief)"), ": " + detail.message);
          return item;
        }));
      });
  });

  // --- a cue ---------------------------------------------------------------------------------------------------

  var FACTS = [
    ["title", "title"], ["medium", "medium"], ["mood", "mood"], ["key", "key"],
    ["tempo", "tempo_bpm", function (v) { return v.toFixed(1) + " bpm"; }],
    ["length", "duration_s", function (v) { return v.toFixed(2) + " s"; }],
    ["loudness", "loudness_lufs", function (v) { return v.toFixed(1) + " LUFS"; }],
    ["render", "render_key"], ["delivered", "created"]
  ];

  function closeCue() {
    if (room) window.cuesAudition.forget(room);
    room = null;
    cueId = null;
    var player = $("mix-player");
    player.pause();
    player.removeAttribute("src");
    objectUrls.forEach(function (url) { URL.revokeObjectURL(url); });
    objectUrls = [];
    blobs = {};
    $("cue-view").querySelector(".room-slot").replaceChildren();
    $("cue-view").hidden = true;
  }

  // The query naming the delivered cues of the same brief in the batch on show (its cutdowns and variations).
  function comparedWith(id) {
    var cues = (shownBatch && shownBatch.cues) || [];
    var own = cues.filter(function (cue) { return cue.cue_id === id; })[0];
    if (!own) return "";
    return cues.filter(function (cue) {
      return cue.cue_id !== id && cue.brief_id === own.brief_id && cue.state === "delivered";
    }).slice(0, 20).map(function (cue, i) {
      return (i ? "&" : "?") + "compare=" + encodeURIComponent(cue.cue_id);
    }).join("");
  }

  function openCue(id) {
    if (id === cueId) return;
    closeCue();
    cueId = id;
    var view = $("cue-view");
    view.hidden = false;
    text(view.querySelector(".cue-id"), id);
    text($("cue-status"), "loading…");
    view.querySelector(".facts").replaceChildren();
    $("reviews").replaceChildren();
    call("/audition/cues/" + encodeURIComponent(id) + comparedWith(id)).then(function (cue) {
      if (cueId !== id) return;
      text($("cue-status"), "");
      var facts = view.querySelector(".facts");
      FACTS.forEach(function (fact) {
        var value = cue.summary[fact[1]];
        if (value === null || value === undefined || value === "") return;
        facts.append(make("dt", fact[0]), make("dd", fact[2] ? fact[2](value) : value));
      });
      var slot = view.querySelector(".room-slot");
      slot.innerHTML = cue.room; // built and escaped by the service (pipelines/report/audition.py)
      room = window.cuesAudition.mount(slot.querySelector(".room"));
      if (cue.master) {
        fileBlob(cue.master).then(function (blob) {
          if (cueId !== id) return;
          var url = URL.createObjectURL(blob);
          objectUrls.push(url);
          $("mix-player").src = url;
        }, function (error) { text($("cue-status"), "could not load the mix: " + error.message); });
      }
      showReviews();
    }, function (error) {
      if (cueId === id) text($("cue-status"), error.message);
    });
  }

  function showReviews() {
    var id = cueId;
    return call("/v1/cues/" + encodeURIComponent(id) + "/review").then(function (body) {
      if (cueId !== id) return;
      var entries = body.reviews, state = body.state;
      text($("review-state"), !state ? "not reviewed yet" : state.approved === null ? "notes only" :
           (state.approved ? "approved" : "rejected") + " by " + state.by + " · " + state.at);
      var list = $("reviews");
      list.replaceChildren.apply(list, entries.slice().reverse().map(function (entry) {
        var verdict = entry.approved === true ? "approved" : entry.approved === false ? "rejected" : "note";
        var item = make("li", "", verdict);
        item.append(make("strong", verdict), " by " + entry.by + " · " + entry.at + (entry.note ? ": " : ""),
                    make("span", entry.note || "", "note"));
        return item;
      }));
    }, function (error) {
      if (cueId === id) text($("review-status"), "could not list the reviews: " + error.message);
    });
  }

  $("review-form").querySelectorAll("button").forEach(function (button) {
    button.addEventListener("click", function () {
      var id = cueId, note = $("review-note"), choice = button.getAttribute("data-approved");
      var approved = choice === "" ? null : choice === "true";
      text($("review-status"), "saving…");
      call("/v1/cues/" + encodeURIComponent(id) + "/review", {
        method: "POST", headers: {"Content-Type": "application/json"},
        body: JSON.stringify({approved: approved, note: note.value})
      }).then(function () {
        if (cueId !== id) return;
        note.value = "";
        text($("review-status"), "saved");
        showReviews();
      }, function (error) { text($("review-status"), error.message); });
    });
  });

  // --- where the page is: #batch/<id>, #cue/<id> (ids only; never a token) -------------------------------------

  function route() {
    var found = /^#(batch|cue)\/(.+)$/.exec(location.hash);
    if (!found || !token) return;
    var id = decodeURIComponent(found[2]);
    if (found[1] === "cue") { openCue(id); return; }
    closeCue();
    batchId = id;
    poll();
  }
  window.addEventListener("hashchange", route);

  if (token) signIn(token); else signOut("");
})();
