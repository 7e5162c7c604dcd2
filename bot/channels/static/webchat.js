// CSKH web chat client: one websocket, messages rendered as they come.
(() => {
  "use strict";
  const ui = JSON.parse(document.getElementById("ui-texts").textContent);
  const log = document.getElementById("log");
  const statusLine = document.getElementById("status");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");
  const photoInput = document.getElementById("photo");
  const locateButton = document.getElementById("locate");
  const DOTS = "••••••";  // a typed secret's bubble: never the secret, not even briefly
  let socket = null;
  let retry = 500;

  // While the bot waits for a password, a PIN or a one-time code the input is a password
  // field. "one-time-code": phones offer the SMS code, and browsers neither fill in nor
  // offer to save a password there (a PIN is no site password to remember).
  function expectSecret(secret) {
    if ((input.type === "password") === secret) return;
    input.type = secret ? "password" : "text";
    input.autocomplete = secret ? "one-time-code" : "off";
    input.placeholder = secret ? ui.secret_placeholder : ui.placeholder;
    input.setAttribute("aria-label", input.placeholder);
    form.classList.toggle("secret", secret);
  }

  function setStatus(text) {
    statusLine.textContent = text || "";
    statusLine.hidden = !text;
  }

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function bubble(direction, text) {
    const element = document.createElement("div");
    element.className = "msg " + direction;
    if (text) element.textContent = text;
    log.appendChild(element);
    return element;
  }

  function addImage(element, url) {
    const image = document.createElement("img");
    image.src = url;
    image.alt = "";
    image.loading = "lazy";
    image.addEventListener("load", scrollDown);
    element.appendChild(image);
  }

  function addDocument(element, doc) {
    const link = document.createElement("a");
    link.className = "doc";
    link.href = doc.url;
    link.textContent = "📎 " + (doc.filename || "tệp");
    link.setAttribute("download", doc.filename || "");
    element.appendChild(link);
  }

  function addButtons(element, rows, requests) {
    const box = document.createElement("div");
    box.className = "buttons";
    for (const request of requests || []) {
      const row = document.createElement("div");
      row.className = "row";
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = request.title;
      button.addEventListener("click", () => request.type === "location" ? sendLocation() : input.focus());
      row.appendChild(button);
      box.appendChild(row);
    }
    for (const buttons of rows || []) {
      const row = document.createElement("div");
      row.className = "row";
      for (const spec of buttons) {
        let control;
        if (spec.url) {
          control = document.createElement("a");
          control.href = spec.url;
          control.target = "_blank";
          control.rel = "noopener noreferrer";
        } else {
          control = document.createElement("button");
          control.type = "button";
          control.addEventListener("click", () => send({type: "button", payload: spec.payload}, spec.title));
        }
        control.textContent = spec.title;
        row.appendChild(control);
      }
      box.appendChild(row);
    }
    if (box.childElementCount) {
      element.appendChild(box);
      element.classList.add("with-buttons");
    }
  }

  function showBot(message) {
    const element = bubble("out", message.text);
    if (message.image) addImage(element, message.image);
    if (message.document) addDocument(element, message.document);
    addButtons(element, message.buttons, message.requests);
    scrollDown();
  }

  function showPast(item) {
    const element = bubble(item.direction, item.text);
    for (const url of item.images || []) addImage(element, url);
    for (const doc of item.documents || []) addDocument(element, doc);
    if (item.direction === "out") addButtons(element, item.buttons, []);
  }

  function notice(text) {
    const element = document.createElement("div");
    element.className = "notice";
    element.textContent = text;
    log.appendChild(element);
    scrollDown();
  }

  function send(message, shown) {
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      notice(ui.offline);
      return false;
    }
    socket.send(JSON.stringify(message));
    if (shown) { bubble("in", shown); scrollDown(); }
    return true;
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/webchat/ws");
    setStatus(ui.connecting);
    socket.addEventListener("open", () => setStatus(""));
    socket.addEventListener("message", (event) => {
      const frame = JSON.parse(event.data);
      if (frame.type === "history") {
        retry = 500;  // only a chat that really works resets the wait between retries
        log.replaceChildren();
        for (const item of frame.messages) showPast(item);
        scrollDown();
        expectSecret(frame.input === "secret");
        // A first visit: the page asks for the greeting itself, as a button would (it is
        // nothing the customer typed, so their history never shows it).
        if (!frame.messages.length) send({type: "button", payload: "start"});
      } else if (frame.type === "message") {
        showBot(frame.message);
        if (frame.input) expectSecret(frame.input === "secret");
      } else if (frame.type === "echo") {
        bubble("in", frame.text);
        scrollDown();
      } else if (frame.type === "notice") {
        notice(frame.text);
      }
    });
    socket.addEventListener("close", (event) => {
      // 4008: the server refused this window (too many open); try again much later.
      if (event.code === 4008) retry = 60000;
      setStatus(ui.reconnecting);
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, event.code === 4008 ? 300000 : 15000);
    });
  }

  function sendLocation() {
    if (!navigator.geolocation) { notice(ui.location_denied); return; }
    navigator.geolocation.getCurrentPosition(
      (position) => send(
        {type: "location", lat: position.coords.latitude, lon: position.coords.longitude},
        "📍 " + position.coords.latitude.toFixed(5) + ", " + position.coords.longitude.toFixed(5)),
      () => notice(ui.location_denied),
      {enableHighAccuracy: true, timeout: 15000});
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    const shown = input.type === "password" ? DOTS : text;
    if (text && send({type: "text", text: text}, shown)) input.value = "";
  });

  locateButton.addEventListener("click", sendLocation);

  photoInput.addEventListener("change", async () => {
    const file = photoInput.files[0];
    photoInput.value = "";
    if (!file) return;
    const element = bubble("in", "");
    addImage(element, URL.createObjectURL(file));
    scrollDown();
    const body = new FormData();
    body.append("photo", file);
    setStatus(ui.sending_photo);
    try {
      const response = await fetch("/webchat/upload", {method: "POST", body: body, credentials: "same-origin"});
      if (!response.ok) notice((await response.json()).error);
    } catch (error) {
      notice(ui.offline);
    } finally {
      setStatus("");
    }
  });

  connect();
})();
