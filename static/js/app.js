// Imagegen's progressive enhancements. Every page works without this file; with it:
// live generation progress, previews of uploads once processed, placeholder colours,
// delete confirmations, "select all", copy buttons and the create form's dimension toggle.
"use strict";

(function () {
  const FINISHED = ["succeeded", "failed", "canceled"];
  const COLOR = /^#[0-9a-f]{6}$/i;

  function onReady(fn) {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", fn);
    else fn();
  }

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  async function getJSON(url) {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (response.status === 429) {
      const wait = Number(response.headers.get("Retry-After")) || 5;
      const error = new Error("throttled");
      error.retryAfter = wait * 1000;
      throw error;
    }
    if (!response.ok) throw new Error("HTTP " + response.status);
    return response.json();
  }

  // Dominant colour as the placeholder behind lazy thumbnails (set through the CSSOM: the CSP forbids style="").
  function paintColors(root) {
    root.querySelectorAll("[data-color]").forEach((el) => {
      const color = el.getAttribute("data-color");
      if (COLOR.test(color)) el.style.backgroundColor = color;
    });
  }

  function confirmForms(root) {
    root.querySelectorAll("form[data-confirm]").forEach((form) => {
      form.addEventListener("submit", (event) => {
        // A second action of a multi-select form (add to album, ZIP) is no deletion to confirm.
        if (event.submitter && event.submitter.hasAttribute("data-skip-confirm")) return;
        if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
      });
    });
  }

  function selectAll(root) {
    root.querySelectorAll("[data-select-all]").forEach((label) => {
      const box = label.querySelector("input");
      const boxes = () => document.querySelectorAll('input[name="ids"][form="bulk-delete"]');
      label.hidden = false;
      box.addEventListener("change", () => boxes().forEach((b) => { b.checked = box.checked; }));
    });
  }

  // Gallery: the new album's title is only asked for when "New album…" is chosen.
  function newAlbumTitle(root) {
    root.querySelectorAll("select[data-new-album]").forEach((select) => {
      const input = select.form && select.form.querySelector('input[name="new_album_title"]');
      if (!input) return;
      const update = () => { input.hidden = select.value !== ""; };
      select.addEventListener("change", update);
      update();
    });
  }

  function copyButtons(root) {
    root.querySelectorAll("[data-copy]").forEach((button) => {
      const target = document.querySelector(button.getAttribute("data-copy"));
      if (!target || !navigator.clipboard) return;
      button.hidden = false;
      button.addEventListener("click", async () => {
        await navigator.clipboard.writeText(target.textContent.trim());
        button.textContent = "Copied";
      });
    });
  }

  // Create form: show the size list or the aspect ratio + resolution, as the radio says.
  function dimensionToggle(root) {
    const form = root.querySelector("[data-create-form]");
    if (!form) return;
    const radios = form.querySelectorAll('input[name="dimensions"]');
    const update = () => {
      const mode = form.querySelector('input[name="dimensions"]:checked');
      const aspect = mode && mode.value === "aspect";
      form.querySelectorAll(".dim-size").forEach((el) => { el.hidden = aspect; });
      form.querySelectorAll(".dim-aspect").forEach((el) => { el.hidden = !aspect; });
    };
    radios.forEach((radio) => radio.addEventListener("change", update));
    update();
  }

  // Generation page: poll the API every second; when the job ends, swap in the server's rendering of the result.
  async function followGeneration(section) {
    const url = section.getAttribute("data-poll-url");
    const progress = section.querySelector("[data-progress]");
    const percent = section.querySelector("[data-percent]");
    const badge = section.querySelector("[data-status-badge]");
    const text = section.querySelector("[data-status-text]");
    let delay = 1000;
    for (;;) {
      await sleep(delay);
      let generation;
      try {
        generation = await getJSON(url);
        delay = 1000;
      } catch (error) {
        delay = error.retryAfter || Math.min(delay * 2, 10000);
        continue;
      }
      if (progress) progress.value = generation.progress;
      if (percent) percent.textContent = generation.progress + "%";
      if (badge) {
        badge.textContent = generation.status;
        badge.className = "badge " + generation.status;
      }
      if (text) {
        text.textContent = generation.status === "queued"
          ? "Waiting for a worker" + (generation.queue_position ? " · position " + generation.queue_position + " in the queue" : "") +
            (generation.eta_seconds != null ? " · done in about " + generation.eta_seconds + " s" : "")
          : "Rendering…";
      }
      if (FINISHED.includes(generation.status)) {
        await showFinished(section);
        return;
      }
    }
  }

  async function showFinished(section) {
    try {
      const response = await fetch(window.location.href, { credentials: "same-origin" });
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = page.querySelector("[data-generation]");
      if (!response.ok || !fresh) throw new Error("no result section");
      const adopted = document.importNode(fresh, true);
      section.replaceWith(adopted);
      enhance(adopted);
    } catch (error) {
      window.location.reload();
    }
  }

  // An upload being processed: show its preview as soon as the worker is done.
  async function followPendingImage(el) {
    const id = el.getAttribute("data-pending-image");
    for (let i = 0, delay = 1500; i < 120; i++) {
      await sleep(delay);
      let image;
      try {
        image = await getJSON("/api/v1/images/" + encodeURIComponent(id));
      } catch (error) {
        delay = error.retryAfter || Math.min(delay * 2, 15000);
        continue;
      }
      if (image.processing === "pending") continue;
      const card = el.classList.contains("card") ? el : null;
      const holder = card ? card.querySelector(".thumb") : el.parentElement;
      const src = card ? image.thumbnail_url : (image.variants.webp || {}).url || image.url;
      if (image.processing === "ready" && src && holder) {
        const img = document.createElement("img");
        img.src = src;
        img.alt = "";
        img.decoding = "async";
        if (image.dominant_color && COLOR.test(image.dominant_color)) holder.style.backgroundColor = image.dominant_color;
        holder.replaceChildren(img);
      } else if (holder) {
        window.location.reload();
      }
      el.removeAttribute("data-pending-image");
      return;
    }
  }

  function enhance(root) {
    paintColors(root);
    confirmForms(root);
    selectAll(root);
    newAlbumTitle(root);
    copyButtons(root);
    dimensionToggle(root);
    root.querySelectorAll("[data-generation][data-poll-url]").forEach(followGeneration);
    root.querySelectorAll("[data-pending-image]").forEach(followPendingImage);
  }

  onReady(() => enhance(document));
})();
