/* The audition rooms of a page (pipelines/report/audition.py): a player per room over one clock, solo and mute per
   stem or layer, A/B between sources at the same position, a playhead on the waveform, keys. No network beyond the
   page's own links. window.cuesRooms lists the rooms (by cue id) for whoever drives the page (tests, a service);
   window.cuesAudition lets a page that builds rooms later mount and forget them, and fetch their files its own way
   (the service's page sends its bearer header: no token goes into a URL). */
(function () {
  "use strict";
  var SEEK_STEP_S = 5;
  var START_AHEAD_S = 0.03; // start every node this far ahead, so that all of them start on the same sample
  var RAMP_S = 0.005; // gains move over 5 ms: an instant jump clicks
  var DRIFT_S = 0.05; // file:// only: an element further than this from the room's clock is re-seeked
  var webAudio = /^https?:$/.test(location.protocol) && !!(window.AudioContext || window.webkitAudioContext);
  var context = null;
  var rooms = [];
  var active = null; // the room the keys control: the last one used, else the first

  function audioContext() {
    if (!context) context = new (window.AudioContext || window.webkitAudioContext)();
    return context;
  }
  function clock(t) {
    var minutes = Math.floor(t / 60), rest = t - 60 * minutes;
    return minutes + ":" + (rest < 10 ? "0" : "") + rest.toFixed(1);
  }
  function now() { return webAudio ? audioContext().currentTime : performance.now() / 1000; }

  // The page's cues (audition.py's cue_catalog): each room offers those it does not list itself.
  var catalogElement = document.getElementById("cue-catalog");
  var catalog = catalogElement ? JSON.parse(catalogElement.getAttribute("data-cues")) : [];

  function Room(element) {
    var room = this, data = JSON.parse(element.getAttribute("data-room"));
    var listed = {};
    data.sources.forEach(function (source) { listed[source.id] = true; });
    var extra = catalog.filter(function (c) { return c.cue !== data.cue && !listed["cue:" + c.cue]; });
    extra.forEach(function (c) {
      var id = "cue:" + c.cue;
      data.sources.push({id: id, label: c.label, tracks: [{id: id, label: c.label, url: c.url}]});
    });
    this.el = element;
    this.cue = data.cue;
    this.duration = data.duration;
    this.sources = {};
    this.tracks = {};
    this.source = data.sources.length ? data.sources[0].id : null;
    this.previous = null;
    this.playing = false;
    this.offset = 0; // position (s) at clock time `started`
    this.started = 0;
    data.sources.forEach(function (source) {
      room.sources[source.id] = source;
      source.tracks.forEach(function (t) {
        room.tracks[t.id] = {id: t.id, url: t.url, source: source.id, solo: false, mute: false, loading: null,
                             buffer: null, node: null, gain: null, element: null};
      });
    });
    this.playhead = element.querySelector(".playhead");
    this.clockEl = element.querySelector(".clock");
    this.status = element.querySelector(".status");
    this.playButton = element.querySelector("button.play");
    var controls = element.querySelector(".room-controls");
    if (!controls) return; // nothing to play: the timeline alone
    controls.hidden = false;
    element.querySelector(".keys").hidden = false;
    this.playButton.addEventListener("click", function () { room.toggle(); });
    element.querySelector("button.ab").addEventListener("click", function () { room.swap(); });
    element.querySelectorAll('input[type="radio"]').forEach(function (radio) {
      radio.addEventListener("change", function () { if (radio.checked) room.select(radio.value); });
    });
    var menu = element.querySelector("select.compare");
    extra.forEach(function (c) {
      var option = document.createElement("option");
      option.value = "cue:" + c.cue;
      option.textContent = c.label;
      menu.appendChild(option);
    });
    if (menu.options.length < 2) element.querySelector("label.compare").hidden = true;
    menu.addEventListener("change", function () { if (menu.value) room.select(menu.value); });
    element.querySelector(".timeline").addEventListener("click", function (event) {
      var box = event.currentTarget.getBoundingClientRect();
      room.seek((event.clientX - box.left) / box.width * room.duration);
      if (!room.playing) room.play();
    });
    element.querySelectorAll(".mixer .track").forEach(function (row) {
      var track = room.tracks[row.getAttribute("data-track")];
      ["solo", "mute"].forEach(function (what) {
        var button = row.querySelector("button." + what);
        button.addEventListener("click", function () {
          track[what] = !track[what];
          button.classList.toggle("on", track[what]);
          room.applyGains();
        });
      });
    });
    element.addEventListener("pointerdown", function () { active = room; });
    this.showMixer();
  }

  Room.prototype.position = function () {
    if (!this.playing) return this.offset;
    return Math.min(this.duration, this.offset + Math.max(0, now() - this.started));
  };

  // The gain a track should have: 0 outside the chosen source; in a source with a mixer, the soloed tracks if any
  // is soloed, else every track not muted.
  Room.prototype.target = function (track) {
    if (track.source !== this.source) return 0;
    var tracks = this.sources[track.source].tracks, room = this;
    var soloed = tracks.some(function (t) { return room.tracks[t.id].solo; });
    return (soloed ? track.solo : !track.mute) ? 1 : 0;
  };

  Room.prototype.gains = function () {
    var out = {}, room = this;
    Object.keys(this.tracks).forEach(function (id) {
      var t = room.tracks[id];
      out[id] = t.gain ? t.gain.gain.value : t.element ? (t.element.paused ? 0 : t.element.volume) : room.target(t);
    });
    return out;
  };

  Room.prototype.load = function (sourceId) {
    var room = this;
    return Promise.all(this.sources[sourceId].tracks.map(function (t) {
      var track = room.tracks[t.id];
      if (!track.loading) {
        if (webAudio) {
          track.loading = window.cuesAudition.fetch(track.url)
            .then(function (response) {
              if (!response.ok) throw new Error(response.status + " " + response.statusText);
              return response.arrayBuffer();
            })
            .then(function (bytes) { return audioContext().decodeAudioData(bytes); })
            .then(function (buffer) {
              track.buffer = buffer;
              if (track.id === "mix") room.drawWave(buffer);
              track.gain = audioContext().createGain();
              track.gain.gain.value = 0;
              track.gain.connect(audioContext().destination);
            });
        } else {
          track.element = new Audio(track.url);
          track.element.preload = "auto";
          track.loading = Promise.resolve();
        }
        track.loading.catch(function (error) { room.say("could not load " + track.id + ": " + error.message); });
      }
      return track.loading;
    }));
  };

  // A manifest written before waveforms has none in the page: draw the mix's once it is decoded, as the report
  // would have (pipelines/render/waveform.py: min and max per bin, both channels, in 127ths of full scale).
  Room.prototype.drawWave = function (buffer) {
    var timeline = this.el.querySelector(".timeline");
    if (!timeline || timeline.querySelector("svg")) return;
    var bins = 400, per = Math.max(1, Math.ceil(buffer.length / bins)), high = [], low = [];
    for (var b = 0; b * per < buffer.length; b++) {
      var top = 0, bottom = 0;
      for (var c = 0; c < buffer.numberOfChannels; c++) {
        var data = buffer.getChannelData(c), end = Math.min(buffer.length, (b + 1) * per);
        for (var i = b * per; i < end; i++) { if (data[i] > top) top = data[i]; if (data[i] < bottom) bottom = data[i]; }
      }
      high.push(Math.round(Math.min(top, 1) * 127));
      low.push(Math.round(Math.max(bottom, -1) * 127));
    }
    var points = high.map(function (v, i) { return (i + 0.5) + "," + (-v); });
    for (var j = low.length - 1; j >= 0; j--) points.push((j + 0.5) + "," + (-low[j]));
    var width = this.duration * buffer.sampleRate / per, ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg"), path = document.createElementNS(ns, "path");
    svg.setAttribute("viewBox", "0 -127 " + width.toFixed(3) + " 254");
    svg.setAttribute("preserveAspectRatio", "none");
    path.setAttribute("d", "M0,0 L" + points.join(" ") + " Z");
    svg.appendChild(path);
    timeline.insertBefore(svg, timeline.firstChild);
  };

  Room.prototype.say = function (text) { if (this.status) this.status.textContent = text; };

  // Start one track at the room's position: a buffer node on the shared clock, or an element seeked to it.
  Room.prototype.startTrack = function (track) {
    var position = this.position();
    if (track.buffer && !track.node && position < track.buffer.duration) {
      var node = audioContext().createBufferSource();
      node.buffer = track.buffer;
      node.connect(track.gain);
      var at = Math.max(this.started, now() + START_AHEAD_S);
      node.start(at, this.offset + (at - this.started));
      track.node = node;
    } else if (track.element && track.source === this.source) {
      track.element.currentTime = position;
      track.element.play().catch(function () {});
    }
  };

  Room.prototype.stopTrack = function (track) {
    if (track.node) { track.node.stop(); track.node.disconnect(); track.node = null; }
    if (track.element) track.element.pause();
  };

  Room.prototype.play = function () {
    var room = this;
    rooms.forEach(function (other) { if (other !== room) other.pause(); });
    document.querySelectorAll("audio").forEach(function (a) { a.pause(); });
    active = this;
    this.say("loading…");
    return this.load(this.source).then(function () {
      if (room.playing) return;
      if (webAudio) audioContext().resume();
      if (room.offset >= room.duration) room.offset = 0;
      room.playing = true;
      room.started = now() + (webAudio ? START_AHEAD_S : 0);
      Object.keys(room.tracks).forEach(function (id) { room.startTrack(room.tracks[id]); });
      room.applyGains();
      room.playButton.textContent = "❚❚ pause";
      room.say("");
      requestAnimationFrame(function () { room.tick(); });
    });
  };

  Room.prototype.pause = function () {
    if (!this.playing) return;
    this.offset = this.position();
    this.playing = false;
    var room = this;
    Object.keys(this.tracks).forEach(function (id) { room.stopTrack(room.tracks[id]); });
    this.playButton.textContent = "▶ play";
    this.draw();
  };

  Room.prototype.toggle = function () { if (this.playing) this.pause(); else this.play(); };

  Room.prototype.seek = function (seconds) {
    var playing = this.playing;
    this.pause();
    this.offset = Math.min(Math.max(0, seconds), this.duration);
    this.draw();
    if (playing) this.play();
  };

  // Choose what the room plays. Playing on: the new source's tracks start at the room's position once loaded, the
  // gains swap, the old source keeps playing silently (web audio) so that switching back is instant.
  Room.prototype.select = function (sourceId) {
    if (!this.sources[sourceId] || sourceId === this.source) return Promise.resolve();
    var room = this;
    this.previous = this.source;
    active = this;
    return this.load(sourceId).then(function () {
      room.source = sourceId;
      if (room.playing) {
        room.sources[sourceId].tracks.forEach(function (t) { room.startTrack(room.tracks[t.id]); });
        if (!webAudio) {
          room.sources[room.previous].tracks.forEach(function (t) { room.stopTrack(room.tracks[t.id]); });
        }
      }
      room.applyGains();
      room.showMixer();
    });
  };

  Room.prototype.swap = function () { return this.previous ? this.select(this.previous) : Promise.resolve(); };

  Room.prototype.applyGains = function () {
    var room = this;
    Object.keys(this.tracks).forEach(function (id) {
      var track = room.tracks[id], value = room.target(track);
      if (track.gain) {
        var param = track.gain.gain, t = audioContext().currentTime;
        param.cancelScheduledValues(t);
        param.setValueAtTime(param.value, t);
        param.linearRampToValueAtTime(value, t + RAMP_S);
      }
      if (track.element) track.element.volume = value;
    });
  };

  Room.prototype.showMixer = function () {
    var room = this;
    this.el.querySelectorAll(".mixer").forEach(function (mixer) {
      mixer.hidden = mixer.getAttribute("data-source") !== room.source;
    });
    this.el.querySelectorAll('input[type="radio"]').forEach(function (radio) {
      radio.checked = radio.value === room.source;
    });
    var menu = this.el.querySelector("select.compare");
    if (menu) menu.value = this.sources[this.source] && this.source.indexOf("cue:") === 0 ? this.source : "";
  };

  Room.prototype.draw = function () {
    var position = this.position();
    if (this.playhead) this.playhead.style.left = (100 * position / this.duration).toFixed(3) + "%";
    if (this.clockEl) this.clockEl.textContent = clock(position);
  };

  Room.prototype.tick = function () {
    if (!this.playing) return;
    var position = this.position(), room = this;
    if (position >= this.duration) { this.pause(); this.offset = 0; this.draw(); return; }
    if (!webAudio) { // keep every element of the chosen source on the room's clock
      this.sources[this.source].tracks.forEach(function (t) {
        var element = room.tracks[t.id].element;
        if (element && !element.paused && Math.abs(element.currentTime - position) > DRIFT_S) {
          element.currentTime = position;
        }
      });
    }
    this.draw();
    requestAnimationFrame(function () { room.tick(); });
  };

  document.addEventListener("keydown", function (event) {
    var target = event.target, tag = target && target.tagName;
    if (!active || event.ctrlKey || event.metaKey || event.altKey) return;
    if (tag === "SELECT" || tag === "TEXTAREA" || (tag === "INPUT" && target.type !== "radio")) return;
    if (tag === "BUTTON" && event.key === " ") target.blur(); // or its click on key-up would toggle it back
    if (event.key === " ") active.toggle();
    else if (event.key === "ArrowLeft") active.seek(active.position() - SEEK_STEP_S);
    else if (event.key === "ArrowRight") active.seek(active.position() + SEEK_STEP_S);
    else if (event.key === "b" || event.key === "B") active.swap();
    else return;
    event.preventDefault();
  });
  // An <audio> player of the page started: the rooms stop, as the players stop each other.
  document.addEventListener("play", function (event) {
    if (event.target.tagName === "AUDIO") rooms.forEach(function (room) { room.pause(); });
  }, true);

  function mount(element) {
    var room = new Room(element);
    rooms.push(room);
    window.cuesRooms[room.cue] = room;
    if (!active && room.playButton) active = room;
    return room;
  }
  // A room leaving the page: silent, and no longer driven by the keys.
  function forget(room) {
    room.pause();
    rooms = rooms.filter(function (other) { return other !== room; });
    if (window.cuesRooms[room.cue] === room) delete window.cuesRooms[room.cue];
    if (active === room) active = rooms.filter(function (other) { return other.playButton; })[0] || null;
  }

  window.cuesRooms = {};
  window.cuesAudition = {mount: mount, forget: forget, fetch: function (url) { return fetch(url); }};
  document.querySelectorAll(".room").forEach(mount);
})();
