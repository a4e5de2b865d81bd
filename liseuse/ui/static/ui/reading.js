// liseuse reading pages: enhancements only. Every action here is also a plain form or link
// that works without this script. No inline handlers: everything is bound from here.
"use strict";
(function () {
  const body = document.body;
  const data = body.dataset;

  // --- sending the page's own forms, asking for JSON -------------------------------------
  function send(form, overrides) {
    const fields = new FormData(form);
    for (const [key, value] of Object.entries(overrides || {})) fields.set(key, value);
    return fetch(form.action, {
      method: "POST",
      body: fields,
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    }).then((response) => {
      if (!response.ok) throw new Error(String(response.status));
      return response.json();
    });
  }

  // Answers may come back out of order: only the last request's count is shown.
  let lastCount = 0;
  function countTicket() {
    lastCount += 1;
    return lastCount;
  }

  function setTitleCount(total, ticket) {
    if (typeof total !== "number" || (ticket !== undefined && ticket !== lastCount)) return;
    document.title = (total ? "(" + total + ") " : "") + data.titleSuffix;
    const badge = document.getElementById("count-total");
    if (badge) badge.textContent = total ? String(total) : "";
  }

  // A feed's count is shown from the last request that asked about it: the last poll, or a
  // later read / unread of one of its entries (tickets by feed id).
  let lastPoll = 0;
  const lastForFeed = new Map();

  // The sidebar's counts: `counts` maps feed ids to their unread counts. `every` says it
  // lists every feed with unread entries (the poll), so that a feed it leaves out has none;
  // otherwise it names only the feeds it changes (a read or unread entry's).
  function setFeedCounts(counts, every, ticket) {
    if (!counts) return;
    document.querySelectorAll("#sidebar [data-count-feed]").forEach((cell) => {
      const feed = cell.dataset.countFeed;
      if (Math.max(lastPoll, lastForFeed.get(feed) || 0) !== ticket) return;
      const count = counts[feed];
      if (count !== undefined || every) cell.textContent = count ? String(count) : "";
    });
    // A category's count is the sum of its feeds' counts, but those hidden from it (as the
    // server counts it: pieces.CategoryBox.unread).
    document.querySelectorAll("#sidebar .cat").forEach((cat) => {
      let sum = 0;
      cat.querySelectorAll("li:not([data-hidden]) > [data-count-feed]").forEach((cell) => {
        sum += Number(cell.textContent) || 0;
      });
      const total = cat.querySelector("[data-count-cat]");
      if (total) total.textContent = sum ? String(sum) : "";
    });
  }

  // Show a toggle button's state: its form sends the opposite next time.
  function showToggle(form, on) {
    const field = form.querySelector("input[name=read], input[name=starred]");
    const button = form.querySelector("button");
    field.value = on ? "0" : "1";
    const label = on ? button.dataset.labelOn : button.dataset.labelOff;
    button.title = label;
    button.querySelector(".vh").textContent = label;
  }

  function toggle(entry, kind, wanted) {
    const form = entry.querySelector('form[data-toggle="' + kind + '"]');
    if (!form) return Promise.resolve();
    const value = wanted === undefined ? form.querySelector("input[name=" + kind + "]").value : wanted ? "1" : "0";
    const overrides = {};
    overrides[kind] = value;
    const ticket = countTicket();
    if (kind === "read") lastForFeed.set(entry.dataset.feed, ticket);
    return send(form, overrides).then((answer) => {
      const on = answer[kind];
      if (kind === "read") {
        entry.classList.toggle("unread", !on);
        setTitleCount(answer.unread_total, ticket);
        setFeedCounts(answer.feeds, false, ticket);
      } else {
        entry.classList.toggle("starred", on);
        // Always in the page (empty at 0), so that it can show again after an unstar.
        const favourites = document.querySelector("[data-count-starred]");
        if (favourites && typeof answer.starred_total === "number") {
          favourites.textContent = answer.starred_total > 0 ? String(answer.starred_total) : "";
        }
      }
      showToggle(form, on);
    }).catch(() => form.submit());
  }

  function markRead(entry) {
    if (entry && entry.classList.contains("unread") && !entry.dataset.sending) {
      entry.dataset.sending = "1";
      toggle(entry, "read", true).finally(() => delete entry.dataset.sending);
    }
  }

  document.addEventListener("submit", (event) => {
    const form = event.target;
    const entry = form.closest(".entry");
    if (!entry) return;
    if (form.dataset.toggle) {
      event.preventDefault();
      toggle(entry, form.dataset.toggle);
    } else if (form.closest(".labels-menu")) {
      event.preventDefault();
      send(form).then((answer) => {
        if (answer.named) showNamedLabel(form, answer.named);
        form.closest("details").open = false;
      }).catch(() => form.submit());
    }
  });

  // A label typed in "New label" is now the entry's: ticked in the menu, the field emptied.
  // Left out of the boxes, the next save (made from them) took it off the entry again.
  function showNamedLabel(form, named) {
    const field = form.querySelector('input[name="new_label"]');
    let box = form.querySelector('input[name="label"][value="' + Number(named.id) + '"]');
    if (!box) {
      box = document.createElement("input");
      box.type = "checkbox";
      box.name = "label";
      box.value = String(named.id);
      const label = document.createElement("label");
      label.append(box, " " + named.name);  // text, never markup
      (field ? field.closest("label") : form.querySelector("button")).before(label, " ");
    }
    box.checked = true;
    if (field) field.value = "";
  }

  // --- opening entries --------------------------------------------------------------------
  document.addEventListener("toggle", (event) => {
    const fold = event.target;
    if (!(fold instanceof HTMLDetailsElement) || !fold.classList.contains("entry-fold")) return;
    if (fold.open) {
      const entry = fold.closest(".entry");
      setCurrent(entry, false);
      if (data.markOpen === "1") markRead(entry);
    }
  }, true);

  if (data.markScroll === "1") {
    // An entry whose end went above the top of the window was scrolled past: read. Checked
    // on scroll (once a frame) rather than by IntersectionObserver, which misses an entry
    // jumped over in one go (End, a long scroll).
    let queued = false;
    window.addEventListener("scroll", () => {
      if (queued) return;
      queued = true;
      window.requestAnimationFrame(() => {
        queued = false;
        document.querySelectorAll(".entry.unread").forEach((entry) => {
          if (entry.getBoundingClientRect().bottom < 0) markRead(entry);
        });
      });
    }, { passive: true });
  }

  // --- the current entry and the keyboard ---------------------------------------------------
  function entries() {
    // Not those of a closed panel of the global view: hidden, they are no place to go.
    return Array.from(document.querySelectorAll(".entry")).filter((entry) => !entry.closest("[hidden]"));
  }
  let current = null;

  function setCurrent(entry, scroll) {
    if (!entry) return;
    if (current && current !== entry) current.classList.remove("current");
    current = entry;
    entry.classList.add("current");
    if (scroll) {
      entry.focus({ preventScroll: true });
      entry.scrollIntoView({ block: "start" });
    }
  }

  function fold(entry) {
    return entry ? entry.querySelector("details.entry-fold") : null;
  }

  function open(entry, wanted) {
    const details = fold(entry);
    if (details) details.open = wanted === undefined ? !details.open : wanted;
    else if (wanted !== false && data.markOpen === "1") markRead(entry);
  }

  function move(step, opening, onlyUnread) {
    const list = entries();
    if (!list.length) return;
    let index = current ? list.indexOf(current) : -1;
    do {
      index += step;
    } while (onlyUnread && index >= 0 && index < list.length && !list[index].classList.contains("unread"));
    if (index < 0 || index >= list.length) return;
    if (opening && current) open(current, false);
    setCurrent(list[index], true);
    if (opening) open(list[index], true);
  }

  function moveFeed(step) {
    const links = Array.from(document.querySelectorAll("#sidebar .feeds a"));
    if (!links.length) return;
    let index = links.findIndex((a) => a.getAttribute("aria-current") === "page");
    index = index < 0 ? (step > 0 ? 0 : links.length - 1) : index + step;
    if (index >= 0 && index < links.length) window.location.href = links[index].href;
  }

  function original(entry) {
    if (entry && entry.dataset.url) window.open(entry.dataset.url, "_blank", "noopener,noreferrer");
  }

  const help = document.getElementById("shortcuts");
  const helpButton = document.getElementById("help-button");
  // The person may have turned the one-key shortcuts off (their settings).
  const shortcuts = data.shortcuts !== "0";
  if (shortcuts && help && helpButton && typeof help.showModal === "function") {
    helpButton.hidden = false;
    helpButton.addEventListener("click", () => help.showModal());
  }

  function viewLink(key) {
    const link = document.querySelector('.views a[data-key="' + key + '"]');
    if (link) window.location.href = link.href;
  }

  // Escape closes an open menu ("Mark all as read ▾"), its summary getting the focus back, as
  // a menu does anywhere (not a shortcut: whatever the person's settings).
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const menu = document.querySelector("details.menu[open]");
    if (!menu) return;
    menu.open = false;
    menu.querySelector("summary").focus();
    event.preventDefault();
  });

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    if (!shortcuts && !(event.key === "Escape" && panel && !panel.hidden)) return;
    const target = event.target;
    if (target.closest("input, textarea, select, [contenteditable]")) return;
    if (help && help.open) return; // the dialog closes itself on Escape
    const key = event.key;
    const shift = event.shiftKey;
    const actions = {
      j: () => move(1, true),
      k: () => move(-1, true),
      J: () => moveFeed(1),
      K: () => moveFeed(-1),
      n: () => move(1, false),
      p: () => move(-1, false),
      h: () => move(1, true, true),
      o: () => current ? open(current) : move(1, true),
      Enter: () => current && !target.closest("a, button, summary") ? open(current) : null,
      c: () => current && open(current, false),
      r: () => current && toggle(current, "read"),
      f: () => current && toggle(current, "starred"),
      s: () => current && toggle(current, "starred"),
      v: () => original(current),
      " ": () => original(current),
      R: () => markAll(),
      A: () => markAll(),
      Home: () => { const l = entries(); if (l.length) setCurrent(l[0], true); },
      End: () => { const l = entries(); if (l.length) setCurrent(l[l.length - 1], true); },
      m: () => { const more = document.getElementById("load-more"); if (more) more.click(); },
      q: () => refresh(),
      1: () => viewLink("1"),
      2: () => viewLink("2"),
      3: () => viewLink("3"),
      a: () => focusSearch(),
      "/": () => focusSearch(),
      "?": () => help && help.showModal(),
      Escape: () => closePanel(),
    };
    const name = shift && key.length === 1 && key !== "?" ? key.toUpperCase() : key;
    const action = actions[name];
    if (!action) return;
    // Enter and Space press the link, button or summary that has the focus, as they do
    // everywhere: only elsewhere do they open the entry or its website.
    if ((name === "Enter" || name === " ") && (!current || target.closest("a, button, summary"))) return;
    if (name === "Escape" && !(panel && !panel.hidden)) return;
    event.preventDefault();
    action();
  });

  function focusSearch() {
    const box = document.getElementById("search");
    if (box) box.focus();
  }

  function markAll() {
    const form = document.getElementById("mark-all-form");
    if (form) form.querySelector('button[value=""]').click();
  }

  function refresh() {
    const form = document.getElementById("refresh-form");
    if (form && form.requestSubmit) form.requestSubmit(); // through the handler below
    else if (form) form.submit();
    else window.location.reload();
  }

  // Back (or Forward) to a page the browser kept as it was left (its back-forward cache): its
  // read marks and counts are those of then, whatever was read since. Asked for again.
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) window.location.reload();
  });

  // "Refresh" on several feeds: they are fetched in the background; say so, and look for
  // their new articles soon rather than at the next poll.
  document.addEventListener("submit", (event) => {
    const form = event.target;
    // getAttribute: the form's field named "id" hides its `id` property.
    if (form.getAttribute("id") !== "refresh-form" || !form.dataset.soon) return;
    event.preventDefault();
    send(form).then((answer) => {
      for (const note of document.querySelectorAll(".refresh-note")) {
        note.classList.toggle("shown", note.id === answer.note);
      }
      if (answer.made_due > 0) for (const after of [5, 15, 30, 60]) window.setTimeout(poll, after * 1000);
    }).catch(() => form.submit());
  });

  // --- new articles: poll the server, show the banner -------------------------------------
  const banner = document.getElementById("new-articles");
  const seconds = Number(data.pollSeconds) || 120;
  function poll() {
    const ticket = countTicket();
    lastPoll = ticket;
    const query = new URLSearchParams({
      after: data.watermark, stream: data.stream, id: data.streamId || "", state: data.state,
      search: data.search || "",
    });
    fetch(data.unreadUrl + "?" + query, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((response) => (response.ok ? response.json() : null))
      .then((answer) => {
        if (!answer) return;
        setTitleCount(answer.unread_total, ticket);
        setFeedCounts(answer.feeds, true, ticket);
        if (banner && answer.arrived > 0) {
          banner.hidden = false;
          // "Fetching the feeds…" has done its work: the banner says what came of it.
          for (const note of document.querySelectorAll(".refresh-note.shown")) note.classList.remove("shown");
        }
      })
      .catch(() => {});
  }
  if (data.unreadUrl) window.setInterval(poll, seconds * 1000);

  // --- global view: a feed opens in place -------------------------------------------------
  const panel = document.getElementById("panel");
  let panelOpener = null;
  function closePanel() {
    if (!panel || panel.hidden) return;
    panel.hidden = true;
    if (current && current.closest("#panel")) {
      current.classList.remove("current");
      current = null;
    }
    if (panelOpener) panelOpener.focus(); // back where the reader was, not to the page's top
  }
  if (panel) {
    const panelBody = document.getElementById("panel-body");
    document.addEventListener("click", (event) => {
      const link = event.target.closest("a.open-in-panel");
      if (!link || event.ctrlKey || event.metaKey || event.shiftKey) return;
      event.preventDefault();
      const url = new URL(link.href);
      url.searchParams.set("panel", "1");
      fetch(url, { credentials: "same-origin" })
        .then((response) => (response.ok ? response.text() : Promise.reject(new Error("panel"))))
        .then((html) => {
          const page = new DOMParser().parseFromString(html, "text/html");
          panelBody.replaceChildren(...page.body.childNodes);
          panel.hidden = false;
          panelOpener = link;
          panel.focus();
        })
        .catch(() => { window.location.href = link.href; });
    });
    document.getElementById("panel-close").addEventListener("click", closePanel);
  }

  // --- categories of the sidebar fold and unfold (remembered in this browser) -------------
  const folded = new Set(JSON.parse(window.localStorage.getItem("liseuse.folded") || "[]"));
  document.querySelectorAll("#sidebar .fold").forEach((button) => {
    const list = document.getElementById(button.getAttribute("aria-controls"));
    // A key of its own (the category's id): its heading's text changes with its count.
    const name = button.dataset.fold;
    const show = (open) => {
      button.setAttribute("aria-expanded", open ? "true" : "false");
      list.hidden = !open;
    };
    button.hidden = false;
    show(!folded.has(name));
    button.addEventListener("click", () => {
      const open = button.getAttribute("aria-expanded") !== "true";
      show(open);
      if (open) folded.delete(name); else folded.add(name);
      window.localStorage.setItem("liseuse.folded", JSON.stringify(Array.from(folded)));
    });
  });

  // --- phones: the sidebar starts folded -------------------------------------------------
  const side = document.querySelector(".side-fold");
  if (side && window.matchMedia("(max-width: 760px)").matches) side.open = false;
})();
