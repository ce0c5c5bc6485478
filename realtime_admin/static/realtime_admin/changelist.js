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

    const CLOSE_NOT_STAFF = 4403; // the server will never accept this session: stop retrying
    const FLASH_MS = 1600;
    const MAX_RETRY_MS = 30000;

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

    // Replace each page element matching selector with its counterpart in the fragment.
    function replaceMatching(selector, html) {
        const fresh = parse(html).querySelectorAll(selector);
        const old = document.querySelectorAll(selector);
        if (fresh.length === old.length) {
            old.forEach((element, index) => element.replaceWith(fresh[index]));
        }
    }

    class LiveChangelist {
        constructor(config) {
            this.config = config;
            this.changed = new Set(); // pks announced and not fetched yet
            this.resyncWanted = false;
            this.running = false;
            this.stale = new Set(); // pks we could not show because the user is editing
            this.retries = 0;
            this.connectedBefore = false;
            // A page with a failed list_editable POST holds the user's input: never patch it.
            this.editing = Boolean(config.hasErrors);
            this.labelRows(config.pks);
            this.shownSent = null; // the shown pks last sent on the socket, joined
            document.addEventListener("input", (event) => this.noteEdit(event), true);
            document.addEventListener("change", (event) => this.noteEdit(event), true);
            this.connect();
        }

        bodyRows() {
            const table = document.getElementById("result_list");
            return table ? Array.from(table.tBodies[0].rows) : [];
        }

        shownPks() {
            return this.bodyRows().map((row) => row.dataset.raPk);
        }

        labelRows(pks) {
            const rows = this.bodyRows();
            if (rows.length !== pks.length) {
                this.editing = true; // e.g. error rows: we cannot tell rows apart, so only notify
                return;
            }
            rows.forEach((row, index) => {
                row.dataset.raPk = pks[index];
            });
        }

        noteEdit(event) {
            const target = event.target;
            if (
                target.closest &&
                target.closest("#result_list") &&
                !target.classList.contains("action-select") &&
                target.id !== "action-toggle"
            ) {
                this.editing = true; // unsaved list_editable input: never overwrite it
            }
        }

        connect() {
            const url = new URL(this.config.websocket, location.href);
            url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
            let socket;
            try {
                socket = new WebSocket(url);
            } catch (error) {
                warnOnce("cannot open the websocket", error);
                return;
            }
            this.socket = socket;
            socket.addEventListener("open", () => {
                this.shownSent = null;
                this.sendShown();
                if (this.connectedBefore) this.requestResync(); // we may have missed changes
                this.connectedBefore = true;
                this.retries = 0;
            });
            socket.addEventListener("message", (event) => {
                try {
                    this.onMessage(JSON.parse(event.data));
                } catch (error) {
                    warnOnce("bad message", error);
                }
            });
            socket.addEventListener("close", (event) => {
                if (event.code === CLOSE_NOT_STAFF) return;
                // Exponential backoff with jitter, so restarted servers are not stampeded.
                const delay = Math.min(MAX_RETRY_MS, 1000 * 2 ** this.retries) * (0.5 + Math.random());
                this.retries += 1;
                setTimeout(() => this.connect(), delay);
            });
        }

        sendShown() {
            const shown = this.shownPks();
            const key = shown.join("\n");
            if (key === this.shownSent || !this.socket || this.socket.readyState !== WebSocket.OPEN) {
                return;
            }
            this.shownSent = key;
            this.socket.send(
                JSON.stringify({
                    type: "subscribe",
                    model: this.config.model,
                    site: this.config.site,
                    shown: shown,
                }),
            );
        }

        onMessage(message) {
            if (message.type === "changes" && message.model === this.config.model) {
                message.changes.forEach((change) => this.changed.add(String(change.pk)));
                this.schedule();
            } else if (message.type === "resync" && message.model === this.config.model) {
                this.requestResync();
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
                    const full = this.resyncWanted;
                    this.changed.clear();
                    this.resyncWanted = false;
                    if (this.editing) {
                        this.markStale(changed);
                        continue;
                    }
                    try {
                        const state = await this.fetchState(changed, full);
                        if (this.editing) {
                            this.markStale(changed);
                        } else if (state.region) {
                            await this.replaceRegion();
                        } else {
                            this.apply(state);
                        }
                    } catch (error) {
                        warnOnce("live update failed; reload the page to see the latest rows", error);
                        this.markStale(changed);
                    }
                    this.sendShown();
                }
            } finally {
                this.running = false;
            }
        }

        // The URL keeps the tab's own querystring; what it shows and what changed go in the body.
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
            return response.json();
        }

        apply(state) {
            const existing = new Map(this.bodyRows().map((row) => [row.dataset.raPk, row]));
            const body = document.createElement("tbody");
            for (const pk of state.pks) {
                let row = existing.get(pk);
                const html = state.rows[pk];
                if (html !== undefined) {
                    const fresh = parse(html.trim()).firstElementChild;
                    fresh.dataset.raPk = pk;
                    if (!row || !sameRow(row, fresh)) {
                        if (row) this.keepSelection(row, fresh);
                        flash(fresh);
                        row = fresh;
                    }
                }
                if (!row) throw new Error(`no row for pk ${pk}`);
                body.append(row);
            }
            // A new tbody also drops the listener actions.js bound to the old one.
            document.getElementById("result_list").tBodies[0].replaceWith(body);
            const fragments = state.fragments;
            replaceMatching(".paginator", fragments.paginator);
            replaceMatching("#changelist-search .quiet", fragments.search);
            replaceMatching("nav.toplinks", fragments.date_hierarchy);
            this.updateActionCounts(fragments.actions);
            if (state.formset) {
                document.getElementById("id_form-TOTAL_FORMS").value = state.formset.total;
                document.getElementById("id_form-INITIAL_FORMS").value = state.formset.initial;
                const hidden = document.querySelector("#changelist-form .hiddenfields");
                if (hidden) hidden.innerHTML = state.formset.hidden;
            }
            this.rebindActions();
        }

        keepSelection(oldRow, freshRow) {
            const oldBox = oldRow.querySelector("input.action-select");
            const freshBox = freshRow.querySelector("input.action-select");
            if (oldBox && freshBox && oldBox.checked) {
                freshBox.checked = true;
                freshRow.classList.add("selected");
            }
        }

        // "Select all 12 stories" and friends carry the total count; keep their visibility.
        updateActionCounts(html) {
            const fresh = parse(html).querySelector("div.actions");
            if (!fresh) return;
            const parts = ["span.action-counter", "span.all", "span.question", "span.clear"];
            for (const bar of document.querySelectorAll("#changelist-form div.actions")) {
                for (const part of parts) {
                    const old = bar.querySelector(part);
                    const replacement = fresh.querySelector(part);
                    const hidden = old ? old.classList.contains("hidden") : null;
                    if (old) old.remove();
                    if (replacement) {
                        const clone = replacement.cloneNode(true);
                        if (hidden !== null) clone.classList.toggle("hidden", hidden);
                        bar.append(clone);
                    }
                }
            }
        }

        // actions.js bound listeners to the nodes and to a static list of checkboxes at load.
        // Swap those nodes for clones (dropping the listeners) and bind it once more.
        rebindActions() {
            const boxes = document.querySelectorAll("tr input.action-select");
            if (typeof window.Actions !== "function" || !boxes.length) return;
            const bound = [
                "#action-toggle",
                "#changelist-form button[name=index]",
                "#changelist-form input[name=_save]",
                "div.actions span.question a",
                "div.actions span.clear a",
            ];
            document.querySelectorAll(bound.join(",")).forEach((el) => el.replaceWith(el.cloneNode(true)));
            window.Actions(boxes);
            // Actions() does not refresh its counter; a change event on a checkbox does.
            const across = document.querySelector("div.actions input.select-across");
            if (!across || across.value !== "1") {
                boxes[0].dispatchEvent(new Event("change", {bubbles: true}));
            }
        }

        // The results table appears or disappears: take the stock view's whole region.
        async replaceRegion() {
            const response = await fetch(this.config.refreshUrl + location.search, {
                credentials: "same-origin",
            });
            if (!response.ok) throw new Error(`region answered ${response.status}`);
            const doc = new DOMParser().parseFromString(await response.text(), "text/html");
            const fresh = doc.getElementById("changelist");
            const config = doc.getElementById("realtime-admin-config");
            if (!fresh || !config) throw new Error("no changelist in the region response");
            document.getElementById("changelist").replaceWith(document.adoptNode(fresh));
            this.labelRows(JSON.parse(config.textContent).pks);
            this.bodyRows().forEach(flash);
            this.rebindActions();
        }

        markStale(pks) {
            pks.forEach((pk) => this.stale.add(pk));
            const count = Math.max(1, this.stale.size);
            let notice = document.getElementById("ra-stale-notice");
            if (!notice) {
                notice = document.createElement("ul");
                notice.id = "ra-stale-notice";
                notice.className = "messagelist";
                notice.setAttribute("role", "status");
                notice.innerHTML = '<li class="warning"><a href=""></a></li>';
                // A GET of this URL, never a re-POST of a failed list_editable form.
                notice.querySelector("a").addEventListener("click", (event) => {
                    event.preventDefault();
                    location.assign(location.href);
                });
                const changelist = document.getElementById("changelist");
                changelist.parentNode.insertBefore(notice, changelist);
            }
            notice.querySelector("a").textContent = interpolate(
                ngettext(
                    "%(count)s row changed elsewhere – reload to see it",
                    "%(count)s rows changed elsewhere – reload to see them",
                    count,
                ),
                {count: count},
                true,
            );
        }
    }

    function start() {
        const script = document.getElementById("realtime-admin-config");
        if (!script || !("WebSocket" in window)) return;
        try {
            window.realtimeAdmin = new LiveChangelist(JSON.parse(script.textContent));
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
