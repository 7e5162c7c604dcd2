// Marketing broadcasts (bot/console/broadcasts.py). Compose page: the recipient count and
// the preview follow the form as it changes; the server renders both (escaped) and this
// script only puts its HTML in place, so nothing here builds markup from typed text.
// Progress page: the counts are polled every second until the campaign is done.
"use strict";
(function () {
  const csrf = (document.querySelector('meta[name="csrf"]') || {}).content || "";
  const headers = { "X-CSRF-Token": csrf, "X-Requested-With": "fetch" };

  function debounce(fn, ms) {
    let timer = null;
    return function () { clearTimeout(timer); timer = setTimeout(fn, ms); };
  }

  function signedOut(response) {
    if (response.status !== 401) return false;
    location.href = "/console/login?next=" + encodeURIComponent(location.pathname);
    return true;
  }

  // --- compose -----------------------------------------------------------------------
  const form = document.getElementById("broadcast-form");
  if (form) {
    const reach = document.getElementById("bc-reach");
    const preview = document.getElementById("bc-preview");
    const text = form.elements.namedItem("text");
    const image = form.elements.namedItem("image");
    const sendAt = form.elements.namedItem("send_at");
    const sendButton = document.getElementById("bc-send");
    const length = document.getElementById("bc-length");
    const maxText = Number(form.dataset.maxText), maxCaption = Number(form.dataset.maxCaption);
    let imageUrl = null;
    const latest = { count: 0, preview: 0 };

    // The form as the server reads it, without the picture: the preview shows the
    // chosen file from this browser instead of sending it up at every keystroke.
    function fields() {
      const data = new FormData(form);
      data.delete("image");
      if (image.files && image.files.length) data.set("image_local", "1");
      return data;
    }

    async function post(url, kind, target) {
      const ticket = ++latest[kind];
      let response;
      try {
        response = await fetch(url, { method: "POST", body: fields(), headers: headers, credentials: "same-origin" });
      } catch (e) { return; }
      if (signedOut(response) || ticket !== latest[kind]) return;  // a newer answer is coming
      let data;
      try { data = await response.json(); } catch (e) { return; }
      if (data && typeof data.html === "string") {
        target.innerHTML = data.html;
        if (kind === "preview") showImage();
      }
    }

    function showImage() {
      if (!imageUrl) return;
      preview.querySelectorAll("img[data-local-image]").forEach(function (img) { img.src = imageUrl; });
    }

    function when() {
      const later = form.querySelector('input[name="when"][value="later"]');
      return later && later.checked ? "later" : "now";
    }

    function showLength() {
      const withImage = image.files && image.files.length;
      const limit = withImage ? maxCaption : maxText;
      const count = text.value.replace(/\r\n/g, "\n").trim().length;
      length.textContent = count.toLocaleString("vi-VN") + " / " + limit.toLocaleString("vi-VN") +
        " ký tự" + (withImage ? " (có ảnh: nội dung là chú thích ảnh)" : "");
      length.classList.toggle("bc-over", count > limit);
    }

    const count = debounce(function () { post(form.dataset.count, "count", reach); }, 300);
    const refresh = debounce(function () { post(form.dataset.preview, "preview", preview); }, 400);

    form.addEventListener("input", function (event) {
      const name = event.target.name;
      if (name === "image") return;  // "change", below
      if (name === "text") { showLength(); refresh(); return; }
      if (name === "send_at" && sendAt.value) {
        form.querySelector('input[name="when"][value="later"]').checked = true;
      }
      if (name === "language") refresh();  // the buttons' language
      count();
      sendButton.textContent = sendButton.dataset[when()];
    });
    form.addEventListener("change", function (event) {
      if (event.target.name !== "image") return;
      if (imageUrl) URL.revokeObjectURL(imageUrl);
      imageUrl = image.files && image.files.length ? URL.createObjectURL(image.files[0]) : null;
      showLength();
      refresh();
    });
    document.getElementById("bc-preview-button").addEventListener("click", function (event) {
      event.preventDefault();
      post(form.dataset.preview, "preview", preview);
    });
    form.addEventListener("submit", function (event) {
      const receiving = reach.querySelector("[data-receiving]");
      const people = receiving ? Number(receiving.dataset.receiving).toLocaleString("vi-VN") : "?";
      const question = when() === "later"
        ? "Lên lịch gửi thông báo này cho " + people + " khách hàng?"
        : "Gửi ngay thông báo này cho " + people + " khách hàng?";
      if (!window.confirm(question)) event.preventDefault();
    });
    showLength();
  }

  // --- progress ----------------------------------------------------------------------
  const progress = document.getElementById("broadcast-progress");
  if (progress) {
    const bar = document.getElementById("bc-bar");
    const state = document.getElementById("bc-state");
    const pause = document.getElementById("bc-pause");
    const resume = document.getElementById("bc-resume");
    let timer = null;

    function show(data) {
      progress.querySelectorAll("[data-count]").forEach(function (cell) {
        const value = data[cell.dataset.count];
        if (typeof value !== "number") return;
        cell.textContent = value.toLocaleString("vi-VN");
        if (cell.tagName === "DD") cell.classList.toggle("bc-zero", value === 0);
      });
      bar.max = data.total || 1;
      bar.value = data.total ? data.finished : (data.state === "done" ? 1 : 0);
      state.textContent = data.label;
      state.className = "bc-state bc-state-" + data.state;
      pause.hidden = data.state !== "running";
      resume.hidden = data.state !== "paused" && data.state !== "draft";
    }

    async function poll() {
      let response;
      try {
        response = await fetch(progress.dataset.status, { headers: headers, credentials: "same-origin" });
      } catch (e) { return; }
      if (signedOut(response)) { clearInterval(timer); return; }
      if (!response.ok) return;
      const data = await response.json();
      show(data);
      if (data.state === "done") clearInterval(timer);
    }

    if (progress.dataset.state !== "done") timer = setInterval(poll, 1000);
  }
})();
