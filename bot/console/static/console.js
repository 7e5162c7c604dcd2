// The console's only script (CSP: no inline script). Live updates arrive as server-sent
// events naming what changed; the page fetches the new HTML, which the server rendered
// and escaped. Nothing here builds markup from a customer's text.
"use strict";
(function () {
  const csrf = (document.querySelector('meta[name="csrf"]') || {}).content || "";

  // Runs `fn` (async) at most once at a time, `ms` after the last call: a call while it
  // runs queues one more run, so an older answer can never land after a newer one.
  function debounce(fn, ms) {
    let timer = null, running = false, again = false;
    async function run() {
      if (running) { again = true; return; }
      running = true;
      try { await fn(); } finally {
        running = false;
        if (again) { again = false; timer = setTimeout(run, ms); }
      }
    }
    return function () { clearTimeout(timer); timer = setTimeout(run, ms); };
  }

  async function fetchJson(url) {
    const response = await fetch(url, { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin" });
    if (response.status === 401) { location.href = "/console/login?next=" + encodeURIComponent(location.pathname + location.search); return null; }
    if (!response.ok) return null;
    return response.json();
  }

  function minutesSince(iso) {
    const minutes = Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 60000));
    if (minutes < 60) return minutes + " phút";
    const hours = Math.floor(minutes / 60), rest = minutes % 60;
    return hours < 48 ? hours + " giờ" + (rest ? " " + rest + " phút" : "") : Math.floor(hours / 24) + " ngày";
  }
  function tickWaiting() {
    document.querySelectorAll("[data-since]").forEach(function (cell) {
      if (cell.dataset.since) cell.textContent = minutesSince(cell.dataset.since);
    });
  }
  setInterval(tickWaiting, 15000);

  // Rows open their conversation (a tablet has no hover; the whole row is the target).
  document.addEventListener("click", function (event) {
    const row = event.target.closest("tr[data-href]");
    if (row && !event.target.closest("a, button, input, select, textarea")) location.href = row.dataset.href;
  });

  const list = document.getElementById("conversation-list");
  const conversation = document.getElementById("conversation");
  const badge = document.getElementById("waiting-badge");

  function showWaiting(count) {
    if (!badge) return;
    badge.hidden = !count;
    badge.textContent = count || "";
  }

  const refreshList = debounce(async function () {
    if (!list) return;
    const data = await fetchJson(list.dataset.rows);
    if (!data) return;
    list.querySelector("tbody").innerHTML = data.rows;
    showWaiting(data.waiting);
  }, 100);

  const transcript = document.getElementById("transcript");
  function atBottom() { return transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 40; }
  function toBottom() { if (transcript) transcript.scrollTop = transcript.scrollHeight; }
  toBottom();

  const refreshConversation = debounce(async function () {
    if (!conversation) return;
    const stick = atBottom();
    const data = await fetchJson(conversation.dataset.live);
    if (!data) return;
    transcript.innerHTML = data.transcript;
    document.getElementById("handoff").innerHTML = data.status;
    const composer = document.getElementById("composer");
    if (composer) composer.hidden = !data.mine;
    if (stick) toBottom();
  }, 50);

  const dot = document.querySelector(".live-dot");
  if (list || conversation || badge) {
    const source = new EventSource("/console/events");
    // Whatever changed between the page's render and the stream opening (a reply posted
    // reloads the page; the customer may answer at once) is fetched when it opens.
    source.onopen = function () {
      if (dot) dot.classList.add("on");
      refreshList();
      refreshConversation();
    };
    source.onerror = function () { if (dot) dot.classList.remove("on"); };
    source.onmessage = function (message) {
      let event;
      try { event = JSON.parse(message.data); } catch (e) { return; }
      if (event.type === "signed_out") { location.href = "/console/login?expired=1"; return; }
      if (event.type === "reload") { refreshList(); refreshConversation(); return; }
      if (event.type === "conversation" || event.type === "queue") {
        refreshList();
        if (conversation && String(event.id) === conversation.dataset.id) refreshConversation();
        if (event.type === "queue" && !list && badge) {
          fetchJson("/console/conversations/rows?mode=waiting").then(function (d) { if (d) showWaiting(d.waiting); });
        }
      }
    };
  }

  // Canned replies fill the reply box; Ctrl+Enter sends.
  const canned = document.getElementById("canned");
  const replyText = document.getElementById("reply-text");
  if (canned && replyText) {
    canned.addEventListener("change", function () {
      if (canned.value) { replyText.value = replyText.value ? replyText.value + "\n" + canned.value : canned.value; replyText.focus(); }
      canned.value = "";
    });
  }
  if (replyText) {
    replyText.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); replyText.form.requestSubmit(); }
    });
  }
  // A form with data-confirm (money applied to an order) asks once before it posts.
  document.addEventListener("submit", function (event) {
    const question = event.target.dataset && event.target.dataset.confirm;
    if (question && !window.confirm(question)) event.preventDefault();
  });
  window.cskhConsole = { csrf: csrf };
})();
