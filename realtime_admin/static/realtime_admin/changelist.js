/* realtime_admin: keeps a stock Django admin changelist live.
 *
 * The websocket only says which rows of this model changed ({pk, op}, never row data).
 * This script then asks the server for its own view of them, with the tab's querystring and
 * the user's session, and patches #result_list in place. If anything fails, the stock page
 * is left as it was and keeps working: errors are logged once, never thrown.
 */
"use strict";
{
    const ngettext = window.ngettext || ((one, many, count) => (count === 1 ? one : many));
    const interpolate =
        window.interpolate ||
        ((format, values) => format.replace(/%\((\w+)\)s/g, (_, key) => values[key]));

    let texts = {}; // the config's translations, by their English original (i18n.py)
    const gettext = (text) => texts[text] || (window.gettext ? window.gettext(text) : text);

    const FLASH_MS = 1600;
    const PRESENCE_HOLD_MS = 2000; // after a reconnect, while other processes answer
    const MIN_REFRESH_INTERVAL_MS = 250; // a burst of notices becomes a few refreshes a second
    const MAX_CHANGED_PER_REFRESH = 200; // past this, re-read the whole page instead

    const checkboxes = () => document.querySelectorAll("#result_list tbody input.action-select");
    // What actions.js gets instead of its static NodeList: always the rows on the page now,
    // so its counter, select-all and shift-click ranges include rows inserted later.
    const liveCheckboxes = {
        get length() {
            return checkboxes().length;
        },
        forEach(callback) {
            checkboxes().forEach(callback);
        },
        [Symbol.iterator]() {
            return checkboxes()[Symbol.iterator]();
        },
    };
    const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

    let warned = false;
    function warnOnce(...args) {
        if (!warned) {
            warned = true;
            console.warn("realtime_admin:", ...args);
        }
    }

    function parse(html) {
        const template = document.createElement("template");
        template.innerHTML = html;
        return template.content;
    }

    // Two rows show the same thing, whatever state actions.js or we added to them.
    function sameRow(a, b) {
        const strip = (row) => {
            const clone = row.cloneNode(true);
            clone.removeAttribute("data-ra-pk");
            clone.classList.remove("selected", "ra-flash");
            if (!clone.classList.length) clone.removeAttribute("class");
            return clone.outerHTML;
        };
        return strip(a) === strip(b);
    }

    function flash(row) {
        row.classList.add("ra-flash");
        setTimeout(() => row.classList.remove("ra-flash"), FLASH_MS);
    }

    function selectedAcross() {
        const across = document.querySelector("div.actions input.select-across");
        return Boolean(across && across.value === "1");
    }

    // Replace each page element matching selector with its counterpart in the fragment.
    function replaceMatching(selector, html) {
        const fresh = parse(html).querySelectorAll(selector);
        const old = document.querySelectorAll(selector);
        if (fresh.length === old.length) {
            old.forEach((element, index) => element.replaceWith(fresh[index]));
        }
    }

    // "2 results (3 total)" beside the search box: the stock template shows it only while a
    // search or filter leaves rows out, so it comes and goes. What follows the Search button
    // (that count, and the hidden inputs of the tab's filters) is taken whole, as rendered.
    function updateResultCount(html) {
        const button = '#changelist-search input[type="submit"]';
        const fresh = parse(html).querySelector(button);
        const old = document.querySelector(button);
        if (!fresh || !old) return;
        const rest = [];
        for (let node = fresh.nextSibling; node; node = node.nextSibling) rest.push(node);
        while (old.nextSibling) old.nextSibling.remove();
        old.after(...rest);
    }

    const FILTERS_STATE = "django.admin.filtersState"; // admin/js/filters.js's sessionStorage key
    const FILTER = "details[data-filter-title]"; // one stock filter (admin/filter.html)

    const storedFilters = () => JSON.parse(sessionStorage.getItem(FILTERS_STATE)) || {};
    const boundFilters = new Set(); // filters shown after load, which filters.js does not know

    // What admin/js/filters.js does to each filter at load, for one shown later: open or closed
    // as the user last left it, and remembered when they toggle it (rememberFilters).
    function bindFilter(details) {
        try {
            const stored = storedFilters();
            if (details.dataset.filterTitle in stored) details.open = stored[details.dataset.filterTitle];
        } catch (error) {
            warnOnce("cannot read the filters' state", error); // (storage blocked or damaged)
        }
        boundFilters.add(details);
    }

    // On any filter's toggle, after filters.js has written its own copy of the state from load
    // (which lacks the filters shown since), write back those of the filters shown since.
    function rememberFilters(event) {
        if (!event.target.matches || !event.target.matches(FILTER)) return;
        setTimeout(() => {
            try {
                const stored = storedFilters();
                boundFilters.forEach((details) => {
                    if (details.isConnected) stored[details.dataset.filterTitle] = details.open;
                    else boundFilters.delete(details);
                });
                sessionStorage.setItem(FILTERS_STATE, JSON.stringify(stored));
            } catch (error) {
                warnOnce("cannot keep the filters' state", error);
            }
        });
    }

    // What the user typed in the search box and whether they are in it, put back after the
    // whole changelist region (search form included) is swapped.
    function keepSearch() {
        const box = document.getElementById("searchbar");
        const typed = box && box.value !== box.defaultValue ? box.value : null;
        const focused = Boolean(box) && document.activeElement === box;
        const [start, end] = box ? [box.selectionStart, box.selectionEnd] : [0, 0];
        return () => {
            const fresh = document.getElementById("searchbar");
            if (!fresh) return;
            if (typed !== null) fresh.value = typed;
            if (focused) {
                fresh.focus();
                fresh.setSelectionRange(start, end);
            }
        };
    }

    // A selector for the same control in a fresh changelist region: by id, by name (and a
    // checkbox's value: a row's is its pk), or a link by its target within its filter (a
    // facet count may change its text, never its link). Null for a control of a table row
    // other than its checkbox: a list_editable input's name and id say which form, not which
    // row, and the rows may have moved.
    function focusSelector(element) {
        if (element.closest("#result_list tbody") && !element.matches("input.action-select")) {
            return null;
        }
        if (element.id) return `#${CSS.escape(element.id)}`;
        const attribute = (name) => `[${name}="${CSS.escape(element.getAttribute(name))}"]`;
        const tag = element.localName;
        if (element.name) return tag + attribute("name") + (element.type === "checkbox" ? attribute("value") : "");
        const filter = element.closest(FILTER);
        const within = filter ? `details[data-filter-title="${CSS.escape(filter.dataset.filterTitle)}"] ` : "";
        if (element.hasAttribute("href")) return within + tag + attribute("href");
        if (tag === "summary" && filter) return within + "summary";
        return null;
    }

    // The focused control of the changelist region, focused again once the region is replaced
    // (the search box has keepSearch): the same one of those the selector finds (the action
    // bar's select is there twice, at the top and the bottom).
    function keepFocus() {
        const region = document.getElementById("changelist");
        const focused = document.activeElement;
        if (!focused || focused.id === "searchbar" || !region.contains(focused)) return () => {};
        const selector = focusSelector(focused);
        if (!selector) return () => {};
        const index = Array.from(region.querySelectorAll(selector)).indexOf(focused);
        return () => {
            const same = document.getElementById("changelist").querySelectorAll(selector)[index];
            if (same) same.focus();
        };
    }

    // Make old's content look like fresh's while keeping every node both have at the same
    // place, so that focus, hover and a click half done on a link survive a count changing.
    function morphChildren(old, fresh) {
        const oldNodes = Array.from(old.childNodes);
        const freshNodes = Array.from(fresh.childNodes);
        freshNodes.forEach((node, index) => {
            const current = oldNodes[index];
            if (!current) {
                old.appendChild(node);
            } else if (current.nodeName !== node.nodeName) {
                current.replaceWith(node);
            } else if (node.nodeType === Node.ELEMENT_NODE) {
                for (const {name} of Array.from(current.attributes)) {
                    if (!node.hasAttribute(name)) current.removeAttribute(name);
                }
                for (const {name, value} of Array.from(node.attributes)) {
                    if (current.getAttribute(name) !== value) current.setAttribute(name, value);
                }
                morphChildren(current, node);
            } else if (current.nodeValue !== node.nodeValue) {
                current.nodeValue = node.nodeValue;
            }
        });
        oldNodes.slice(freshNodes.length).forEach((node) => node.remove());
    }

    // Each stock filter by its title, and which of that title it is (two may share one).
    function filtersByKey(root) {
        const seen = {};
        return new Map(
            Array.from(root.querySelectorAll(FILTER), (details) => {
                const title = details.dataset.filterTitle;
                seen[title] = (seen[title] || 0) + 1;
                return [`${title}\n${seen[title]}`, details];
            }),
        );
    }

    // Bring the sidebar's stock filters up to date with fresh ones. A filter still shown
    // keeps its element (so it stays open or closed, and bound) and its content is patched;
    // one that appears is bound as filters.js would; one with no choices left goes. Filters
    // of other templates, and any holding form fields (a script's widgets), are left alone.
    function updateFilters(nav, html) {
        const old = filtersByKey(nav);
        const fresh = filtersByKey(parse(html));
        let previous = null;
        fresh.forEach((details, key) => {
            const current = old.get(key);
            if (!current) {
                bindFilter(details);
                const first = nav.querySelector(FILTER);
                if (previous) previous.after(details);
                else if (first) first.before(details);
                else nav.append(details);
            } else if (current.innerHTML !== details.innerHTML && !current.querySelector("input, select, textarea")) {
                morphChildren(current, details);
            }
            previous = current || details;
        });
        old.forEach((details, key) => fresh.has(key) || details.remove());
    }

    class LiveChangelist {
        constructor(config) {
            this.config = config;
            this.changed = new Set(); // pks announced and not fetched yet
            this.resyncWanted = false;
            this.running = false;
            this.stale = new Set(); // pks we could not show because the user is editing
            this.staleUnknown = false; // a whole-page refresh failed: anything may be behind
            // The page's pks when its rows could not be told apart (labelRows), else null.
            this.unlabelledPks = null;
            this.connectedBefore = false;
            this.lastRefresh = 0;
            // A page with a failed list_editable POST holds the user's input: never patch it.
            this.editing = Boolean(config.hasErrors);
            // Whether the filter sidebar is the stock one, there exactly when the page has
            // filters (a project template may leave it out): only then does it come and go.
            this.stockSidebar = Boolean(config.hasFilters) === Boolean(document.getElementById("changelist-filter"));
            this.filtersActive = config.hasActiveFilters; // ("Clear all filters" is shown)
            // Set while patching would drop rows the user has selected; cleared when they
            // clear their selection.
            this.holdingSelection = false;
            this.labelRows(config.pks);
            this.shownSent = null; // the shown pks last sent on the socket, joined
            document.addEventListener("input", (event) => this.noteEdit(event), true);
            document.addEventListener("change", (event) => this.noteEdit(event), true);
            document.addEventListener("toggle", rememberFilters, true); // (toggle does not bubble)
            document.addEventListener("click", (event) => this.choosePopupRow(event));
            this.presence =
                window.RealtimeAdminPresence && new window.RealtimeAdminPresence(config.texts);
            this.socket = new window.RealtimeAdminSocket(config.websocket, {
                onOpen: (again) => {
                    this.shownSent = null;
                    this.sendShown();
                    if (again) this.requestResync(); // we may have missed changes
                    if (again && this.presence) this.presence.hold(PRESENCE_HOLD_MS);
                    this.connectedBefore = true;
                },
                onMessage: (message) => {
                    try {
                        this.onMessage(message);
                    } catch (error) {
                        warnOnce("bad message", error);
                    }
                },
                onResume: () => this.requestResync(),
                onStop: (text) => this.stop(text),
            }, config.texts);
        }

        get held() {
            return this.editing || this.holdingSelection;
        }

        bodyRows() {
            const table = document.getElementById("result_list");
            return table ? Array.from(table.tBodies[0].rows) : [];
        }

        shownPks() {
            if (this.unlabelledPks) return this.unlabelledPks; // shown, though not which row is which
            return this.bodyRows().map((row) => row.dataset.raPk);
        }

        labelRows(pks) {
            const rows = this.bodyRows();
            if (rows.length !== pks.length) {
                // e.g. error rows: we cannot tell rows apart, so only notify
                this.editing = true;
                this.unlabelledPks = pks;
                return;
            }
            this.unlabelledPks = null;
            rows.forEach((row, index) => {
                row.dataset.raPk = pks[index];
            });
        }

        noteEdit(event) {
            const target = event.target;
            if (!target.closest || !target.closest("#result_list")) return;
            if (target.classList.contains("action-select") || target.id === "action-toggle") {
                if (this.holdingSelection && !document.querySelector("input.action-select:checked")) {
                    this.holdingSelection = false; // selection cleared: catch up
                    this.requestResync();
                }
            } else {
                this.editing = true; // unsaved list_editable input: never overwrite it
            }
        }

        // Popup changelists (a related-object lookup): Django binds the "choose this row"
        // links one by one at load, so rows rendered later are handled here the same way.
        choosePopupRow(event) {
            const link = event.target.closest && event.target.closest("#result_list a[data-popup-opener]");
            if (!link || !link.closest("tr").raRendered || !window.opener) return;
            event.preventDefault();
            window.opener.dismissRelatedLookupPopup(window, link.dataset.popupOpener);
        }

        // The server will not take this socket again (logged out, access revoked): say so
        // once, and leave the page as it is.
        stop(text) {
            this.notice("ra-stopped-notice", "error", text);
        }

        sendShown() {
            const shown = this.shownPks();
            const key = shown.join("\n");
            if (key === this.shownSent || !this.socket.isOpen) return;
            this.shownSent = key;
            this.socket.send({
                type: "subscribe",
                model: this.config.model,
                site: this.config.site,
                shown: shown,
                // When the rows were read: the server tells us if we missed changes since.
                since: this.connectedBefore ? undefined : this.config.since,
                presence: Boolean(this.presence),
            });
        }

        onMessage(message) {
            if (message.type === "changes" && message.model === this.config.model) {
                message.changes.forEach((change) => this.changed.add(String(change.pk)));
                this.schedule();
            } else if (message.type === "resync" && message.model === this.config.model) {
                this.requestResync();
            } else if (message.type === "presence" && message.model === this.config.model && !message.pk) {
                if (this.presence) this.presence.show(message.users);
            } else if (message.type === "error") {
                warnOnce(message.message);
            }
        }

        requestResync() {
            this.resyncWanted = true;
            this.schedule();
        }

        // One refresh at a time; changes that arrive meanwhile are coalesced into the next.
        async schedule() {
            if (this.running) return;
            this.running = true;
            try {
                while (this.changed.size || this.resyncWanted) {
                    const changed = [...this.changed];
                    const full = this.resyncWanted || changed.length > MAX_CHANGED_PER_REFRESH;
                    this.changed.clear();
                    this.resyncWanted = false;
                    if (this.held) {
                        this.markStale(changed, full);
                        continue;
                    }
                    const wait = this.lastRefresh + MIN_REFRESH_INTERVAL_MS - Date.now();
                    if (wait > 0) await sleep(wait);
                    this.lastRefresh = Date.now();
                    try {
                        const state = await this.fetchState(full ? [] : changed, full);
                        if (!state) return; // the session has ended: nothing more to fetch
                        if (this.held) {
                            this.markStale(changed, full);
                        } else {
                            const current =
                                state.region || this.changesShape(state)
                                    ? await this.replaceRegion(changed, full)
                                    : this.apply(state) || this.holdSelection(changed, full);
                            if (full && current) this.clearStale(); // caught up with everything
                        }
                    } catch (error) {
                        warnOnce("live update failed; reload the page to see the latest rows", error);
                        this.markStale(changed, full);
                    }
                    this.sendShown();
                }
            } finally {
                this.running = false;
            }
        }

        // The URL keeps the tab's own querystring; what it shows and what changed go in the body.
        // Null when the session has ended.
        async fetchState(changed, full) {
            const token = document.querySelector("#changelist-form [name=csrfmiddlewaretoken]");
            const response = await fetch(this.config.refreshUrl + location.search, {
                method: "POST",
                credentials: "same-origin",
                headers: {
                    "Content-Type": "application/json",
                    "X-CSRFToken": token ? token.value : "",
                },
                body: JSON.stringify({shown: this.shownPks(), changed: changed, full: full}),
            });
            if (!response.ok) throw new Error(`refresh answered ${response.status}`);
            if (this.socket.sentToLogin(response)) return null;
            return response.json();
        }

        // Whether a URL is this changelist's, as the server names it (the page may have been
        // reached by another path): a changelist redirects to itself for a page number that
        // no longer exists, and a request whose session has ended to the login page. (A
        // login on another origin makes the fetch fail instead: the page then says it may be
        // out of date.)
        isChangelist(url) {
            const live = new URL(this.config.refreshUrl, location.href).pathname;
            return new URL(url).pathname === live.slice(0, -"__live__/".length);
        }

        // Whether the new state needs markup the page does not have (or has no more): the
        // "Select all N" links exist only while the total differs from the page's row count,
        // the filter sidebar only while some filter has choices to offer, "Clear all filters"
        // only while a filter in use is shown.
        changesShape(state) {
            const fresh = parse(state.fragments.actions).querySelector("div.actions span.question");
            const old = document.querySelector("#changelist-form div.actions span.question");
            const filters = Boolean(state.fragments.filters.trim());
            const sidebar = Boolean(document.getElementById("changelist-filter"));
            return (
                Boolean(fresh) !== Boolean(old) ||
                (this.stockSidebar && (filters !== sidebar || state.filtersActive !== this.filtersActive))
            );
        }

        // Patch the rows in place, inside the tbody actions.js listens to. Returns false, and
        // changes nothing, when that would drop rows the user has selected.
        apply(state) {
            const table = document.getElementById("result_list");
            if (table) {
                const across = selectedAcross();
                const existing = new Map(this.bodyRows().map((row) => [row.dataset.raPk, row]));
                if (this.dropsSelection(state.pks)) return false;
                const wanted = new Set(state.pks);
                // (Own keys only: a pk may be named "constructor" or "toString".)
                const html = (pk) => (Object.hasOwn(state.rows, pk) ? state.rows[pk] : undefined);
                const rows = state.pks.map((pk) => this.rowFor(pk, existing.get(pk), html(pk), across));
                const body = table.tBodies[0];
                const kept = new Set(rows);
                existing.forEach((row) => kept.has(row) || row.remove()); // gone or replaced
                rows.forEach((row, index) => {
                    if (body.rows[index] !== row) body.insertBefore(row, body.rows[index] || null);
                });
            }
            const fragments = state.fragments;
            replaceMatching(".paginator", fragments.paginator);
            updateResultCount(fragments.search);
            replaceMatching("nav.toplinks", fragments.date_hierarchy);
            this.updateActionCounts(fragments.actions);
            if (state.formset) {
                document.getElementById("id_form-TOTAL_FORMS").value = state.formset.total;
                document.getElementById("id_form-INITIAL_FORMS").value = state.formset.initial;
                const hidden = document.querySelector("#changelist-form .hiddenfields");
                if (hidden) hidden.innerHTML = state.formset.hidden;
            }
            const filters = document.getElementById("changelist-filter");
            if (filters) updateFilters(filters, fragments.filters);
            // actions.js recomputes its counter and select-all box on pageshow; while "all N
            // selected" is chosen it would reset that, so leave it be (and with the table gone,
            // it would fail).
            if (!selectedAcross() && document.getElementById("action-toggle")) {
                window.dispatchEvent(new Event("pageshow"));
            }
            return true;
        }

        // Whether showing these rows would take away rows the user selected (unless they chose
        // "all N" across pages, which the new rows are part of).
        dropsSelection(pks) {
            const wanted = new Set(pks);
            return (
                !selectedAcross() &&
                this.bodyRows().some(
                    (row) => !wanted.has(row.dataset.raPk) && row.querySelector("input.action-select:checked"),
                )
            );
        }

        // The row to show for pk: the one on the page, or the fresh HTML when it changed.
        rowFor(pk, row, html, across) {
            if (html === undefined) return row;
            const fresh = parse(html.trim()).firstElementChild;
            fresh.dataset.raPk = pk;
            if (row && sameRow(row, fresh)) return row;
            const box = fresh.querySelector("input.action-select");
            const wasChecked = row && row.querySelector("input.action-select:checked");
            if (box && (wasChecked || across)) {
                box.checked = true;
                fresh.classList.add("selected");
            }
            this.prepareRow(fresh);
            flash(fresh);
            return fresh;
        }

        // What Django's admin scripts did to rows at load, done for a row rendered later.
        prepareRow(row) {
            row.raRendered = true;
            const shortcuts = window.DateTimeShortcuts;
            if (shortcuts) {
                row.querySelectorAll("input.vDateField").forEach((input) => shortcuts.addCalendar(input));
                row.querySelectorAll("input.vTimeField").forEach((input) => shortcuts.addClock(input));
            }
            if (document.getElementById("id_form-TOTAL_FORMS")) {
                // The admin's widgets (e.g. autocomplete) initialise themselves on this event.
                queueMicrotask(() =>
                    row.dispatchEvent(
                        new CustomEvent("formset:added", {bubbles: true, detail: {formsetName: "form"}}),
                    ),
                );
            }
        }

        // "Select all 12 orders" and friends carry the total count: update their text only,
        // keeping the elements actions.js is bound to.
        updateActionCounts(html) {
            const fresh = parse(html).querySelector("div.actions");
            if (!fresh) return;
            const counter = fresh.querySelector("span.action-counter");
            for (const bar of document.querySelectorAll("#changelist-form div.actions")) {
                const oldCounter = bar.querySelector("span.action-counter");
                if (oldCounter && counter) oldCounter.dataset.actionsIcnt = counter.dataset.actionsIcnt;
                for (const part of ["span.all", "span.question a"]) {
                    const old = bar.querySelector(part);
                    const replacement = fresh.querySelector(part);
                    if (old && replacement) old.textContent = replacement.textContent;
                }
            }
        }

        // The results table or the "select all" links appear or disappear: take the stock
        // view's whole changelist region, keep the selection, and let actions.js bind to it.
        // Returns whether the page is now current.
        async replaceRegion(changed, full = false) {
            const response = await fetch(this.config.refreshUrl + location.search, {
                credentials: "same-origin",
            });
            if (!response.ok) throw new Error(`region answered ${response.status}`);
            if (!this.isChangelist(response.url) && this.socket.sentToLogin(response)) return false;
            if (response.redirected || this.held) {
                // e.g. this page number no longer exists: the stock admin would redirect.
                this.markStale(changed, full);
                return false;
            }
            const doc = new DOMParser().parseFromString(await response.text(), "text/html");
            const fresh = doc.getElementById("changelist");
            const config = doc.getElementById("realtime-admin-config");
            if (!fresh || !config) throw new Error("no changelist in the region response");
            const {pks, hasActiveFilters} = JSON.parse(config.textContent);
            if (this.dropsSelection(pks)) return this.holdSelection(changed, full);
            const selected = new Set(
                Array.from(checkboxes()).filter((box) => box.checked).map((box) => box.value),
            );
            const before = new Set(this.shownPks());
            const search = keepSearch();
            const focus = keepFocus();
            // Each filter opens or stays closed as the user left it, as filters.js does at load.
            fresh.querySelectorAll(FILTER).forEach(bindFilter);
            document.getElementById("changelist").replaceWith(document.adoptNode(fresh));
            search();
            focus();
            this.filtersActive = hasActiveFilters;
            this.labelRows(pks);
            this.bodyRows().forEach((row) => {
                this.prepareRow(row);
                const box = row.querySelector("input.action-select");
                if (box && selected.has(box.value)) {
                    box.checked = true;
                    row.classList.add("selected");
                }
                if (changed.includes(row.dataset.raPk) || !before.has(row.dataset.raPk)) flash(row);
            });
            if (checkboxes().length && typeof window.Actions === "function") {
                window.Actions(liveCheckboxes);
                window.dispatchEvent(new Event("pageshow"));
            }
            return true;
        }

        clearStale() {
            this.stale.clear();
            this.staleUnknown = false;
            const notice = document.getElementById("ra-stale-notice");
            if (notice) notice.remove();
        }

        holdSelection(changed, full = false) {
            this.holdingSelection = true;
            this.markStale(changed, full);
            return false;
        }

        // A sticky message above the changelist, in the admin's own style, whose text reloads
        // the page (a GET of this URL, never a re-POST of a failed list_editable form).
        notice(id, level, text) {
            let notice = document.getElementById(id);
            if (!notice) {
                notice = document.createElement("ul");
                notice.id = id;
                notice.className = "messagelist ra-notice";
                notice.setAttribute("role", "status");
                notice.innerHTML = `<li class="${level}"><a href=""></a></li>`;
                notice.querySelector("a").addEventListener("click", (event) => {
                    event.preventDefault();
                    if (this.editing && !confirm(gettext("Discard your unsaved changes and reload?"))) {
                        return;
                    }
                    location.assign(location.href);
                });
                const changelist = document.getElementById("changelist");
                changelist.parentNode.insertBefore(notice, changelist);
            }
            notice.querySelector("a").textContent = text;
        }

        // What saving the page's list_editable forms would do to changes made elsewhere:
        // "would" overwrite them when a changed row is one the page shows (a new row, or one
        // on another page, is not saved from here); "may" when the page cannot tell which
        // rows changed (a missed or failed refresh) or which rows it shows (a failed save's
        // error rows); null when it would not, or there are no forms.
        formsetOverwrites() {
            if (!document.getElementById("id_form-TOTAL_FORMS")) return null;
            if (this.staleUnknown || this.unlabelledPks) return "may";
            const shown = new Set(this.shownPks());
            return [...this.stale].some((pk) => shown.has(pk)) ? "would" : null;
        }

        // Rows changed that the page does not show yet; ``unknown``: any row may have.
        markStale(pks, unknown = false) {
            pks.forEach((pk) => this.stale.add(pk));
            const count = this.stale.size;
            if (unknown || !pks.length) this.staleUnknown = true; // (a count would understate it)
            let text = this.staleUnknown
                ? gettext("This page may be out of date – reload to see the latest rows.")
                : interpolate(
                      ngettext(
                          "%(count)s row changed elsewhere – reload to see it.",
                          "%(count)s rows changed elsewhere – reload to see them.",
                          count,
                      ),
                      {count: count},
                      true,
                  );
            const overwrites = this.editing && this.formsetOverwrites();
            if (overwrites === "would") {
                text += " " + gettext("Saving this page now would overwrite those changes.");
            } else if (overwrites === "may") {
                text += " " + gettext("Saving this page now may overwrite changes made elsewhere.");
            } else if (this.holdingSelection) {
                text += " " + gettext("The page waits while rows you selected would move off it.");
            }
            this.notice("ra-stale-notice", "warning", text);
        }
    }

    function start() {
        const script = document.getElementById("realtime-admin-config");
        if (!script || !("WebSocket" in window)) return;
        // This deferred script runs before actions.js's DOMContentLoaded handler calls
        // Actions(staticNodeList): hand it the live list instead, once and for all.
        const stockActions = window.Actions;
        if (typeof stockActions === "function") {
            window.Actions = (boxes, options) => stockActions(liveCheckboxes, options);
        }
        try {
            const config = JSON.parse(script.textContent);
            texts = config.texts || {};
            window.realtimeAdmin = new LiveChangelist(config);
        } catch (error) {
            warnOnce("live updates are off for this page", error);
        }
    }

    if (document.readyState !== "loading") {
        start();
    } else {
        document.addEventListener("DOMContentLoaded", start);
    }
}
