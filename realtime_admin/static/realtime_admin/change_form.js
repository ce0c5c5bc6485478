/* realtime_admin: a stock Django admin change form that knows when someone else changes or
 * deletes its object, and who else has it open.
 *
 * The websocket says that the object changed and who did it, never what. This script then
 * asks the server which of the fields this user's form shows differ from the version the
 * form was loaded with (versions.py), and shows a banner with Reload and Compare. It never
 * touches the user's input; saving over newer values is refused once by the server.
 */
"use strict";
{
    const gettext = window.gettext || ((text) => text);
    const interpolate =
        window.interpolate ||
        ((format, values) => format.replace(/%\((\w+)\)s/g, (_, key) => values[key]));

    const TICK_MS = 1000; // how often "3 seconds ago" is brought up to date

    // "just now", "3 seconds ago", "2 minutes ago", in the page's language.
    function ago(at) {
        const seconds = Math.max(0, Math.round(Date.now() / 1000 - at));
        if (seconds < 2) return gettext("just now");
        const format = new Intl.RelativeTimeFormat(document.documentElement.lang || undefined);
        if (seconds < 60) return format.format(-seconds, "second");
        if (seconds < 3600) return format.format(-Math.floor(seconds / 60), "minute");
        return format.format(-Math.floor(seconds / 3600), "hour");
    }

    class LiveChangeForm {
        constructor(config) {
            this.config = config;
            this.form = document.querySelector("#content-main form");
            this.dirty = false; // the user typed something not saved yet
            this.submitting = false;
            this.checking = false;
            this.checkAgain = false;
            this.last = null; // the latest change told: {op, by, at}
            this.fields = []; // the changed fields, as the server last listed them
            this.region = this.liveRegion();
            if (this.form) {
                this.form.addEventListener("input", () => (this.dirty = true));
                this.form.addEventListener("change", () => (this.dirty = true));
                this.form.addEventListener("submit", () => (this.submitting = true));
            }
            this.presence = window.RealtimeAdminPresence && new window.RealtimeAdminPresence();
            this.socket = new window.RealtimeAdminSocket(config.websocket, {
                onOpen: (again) => {
                    this.socket.send({
                        type: "object",
                        model: config.model,
                        site: config.site,
                        pk: config.pk,
                        // When the form was read: the server tells us if we missed changes since.
                        since: again ? undefined : config.since,
                    });
                    if (again) this.check(); // it may have changed while we were away
                },
                onMessage: (message) => this.onMessage(message),
                onResume: () => this.check(),
                onStop: (text) => this.say("error", text),
            });
            setInterval(() => this.tick(), TICK_MS);
        }

        // The banner's place, there from the start: screen readers announce what appears in it.
        liveRegion() {
            const region = document.createElement("div");
            region.id = "ra-change-banner";
            region.setAttribute("aria-live", "polite");
            // Just above the form: below the object tools, which Django 5.2 floats there.
            if (this.form) this.form.before(region);
            else document.getElementById("content-main")?.prepend(region);
            return region;
        }

        onMessage(message) {
            if (message.model !== this.config.model) return;
            if (message.type === "presence" && message.pk === this.config.pk) {
                if (this.presence) this.presence.show(message.users);
            } else if (message.type === "object" && message.pk === this.config.pk) {
                if (message.op) this.last = {op: message.op, by: message.by, at: message.at};
                if (message.op === "deleted") {
                    this.fields = [];
                    this.show();
                } else {
                    this.check();
                }
            } else if (message.type === "error") {
                console.warn("realtime_admin:", message.message);
            }
        }

        // Ask the server what differs from the version this form was loaded with; one request
        // at a time, a burst of notices coalesced into one more.
        async check() {
            if (this.checking) {
                this.checkAgain = true;
                return;
            }
            this.checking = true;
            try {
                do {
                    this.checkAgain = false;
                    const url = new URL(this.config.statusUrl, location.href);
                    url.searchParams.set("version", this.config.version);
                    const response = await fetch(url, {
                        credentials: "same-origin",
                        headers: {Accept: "application/json"},
                    });
                    if (!response.ok) throw new Error(`status ${response.status}`);
                    const status = await response.json();
                    if (status.state === "deleted") {
                        this.last = {...(this.last || {}), op: "deleted"};
                        this.fields = [];
                    } else {
                        this.fields = status.fields;
                    }
                    if (status.state === "same") this.clear();
                    else this.show();
                } while (this.checkAgain);
            } catch (error) {
                console.warn("realtime_admin: could not learn what changed", error);
            } finally {
                this.checking = false;
            }
        }

        get deleted() {
            return Boolean(this.last && this.last.op === "deleted");
        }

        // Who made the latest change, as the banner names them.
        who() {
            const by = this.last && this.last.by;
            if (!this.last || !this.last.op) return null; // we only know that something changed
            if (!by) return gettext("another process");
            if (String(by.id) === String(this.config.user)) return gettext("you, in another tab");
            return by.name;
        }

        headline() {
            const values = {name: this.config.name, who: this.who()};
            const at = this.last && this.last.at;
            if (values.who && at) {
                values.when = ago(at);
                return interpolate(
                    this.deleted
                        ? gettext("This %(name)s was deleted by %(who)s %(when)s.")
                        : gettext("This %(name)s was changed by %(who)s %(when)s."),
                    values,
                    true,
                );
            }
            return interpolate(
                this.deleted
                    ? gettext("This %(name)s was deleted since you opened it.")
                    : gettext("This %(name)s was changed since you opened it."),
                values,
                true,
            );
        }

        show() {
            if (this.submitting) return; // this page is on its way out
            let banner = this.region.querySelector(".ra-banner");
            if (!banner) {
                banner = document.createElement("ul");
                banner.className = "messagelist ra-banner";
                banner.innerHTML =
                    '<li class="warning"><span class="ra-banner-text"></span>' +
                    '<span class="ra-banner-fields"></span> ' +
                    '<button type="button" class="button ra-reload"></button> ' +
                    '<button type="button" class="button ra-compare" aria-expanded="false"></button></li>';
                banner.querySelector(".ra-reload").textContent = gettext("Reload");
                banner.querySelector(".ra-reload").addEventListener("click", () => this.reload());
                banner.querySelector(".ra-compare").addEventListener("click", () => this.compare());
                this.region.append(banner);
            }
            banner.querySelector(".ra-banner-text").textContent = this.headline();
            banner.querySelector(".ra-banner-fields").textContent = this.fields.length
                ? " " +
                  interpolate(
                      gettext("Changed: %(fields)s."),
                      {fields: this.fields.map((field) => field.label).join(", ")},
                      true,
                  )
                : "";
            banner.querySelector(".ra-reload").hidden = this.deleted;
            const compare = banner.querySelector(".ra-compare");
            compare.hidden = this.deleted || !this.fields.length;
            if (this.comparing) this.markFields(); // keep the comparison up to date
            compare.textContent = this.comparing ? gettext("Hide comparison") : gettext("Compare");
        }

        clear() {
            this.region.replaceChildren();
            this.comparing = false;
            this.unmarkFields();
        }

        tick() {
            const text = this.region.querySelector(".ra-banner-text");
            // Only the time moves: rewrite quietly, without re-announcing the whole banner.
            if (text && this.last && this.last.at) {
                this.region.setAttribute("aria-live", "off");
                text.textContent = this.headline();
                this.region.setAttribute("aria-live", "polite");
            }
        }

        say(level, text) {
            const notice = document.createElement("ul");
            notice.className = "messagelist ra-notice";
            notice.innerHTML = `<li class="${level}"></li>`;
            notice.firstChild.textContent = text;
            this.region.append(notice);
        }

        reload() {
            if (this.dirty && !confirm(gettext("Discard your unsaved changes and reload?"))) return;
            location.assign(location.href); // a GET, never a re-POST
        }

        // Compare: under each changed field, what is saved now; the user's input stays as is.
        compare() {
            this.comparing = !this.comparing;
            if (this.comparing) this.markFields();
            else this.unmarkFields();
            const button = this.region.querySelector(".ra-compare");
            button.setAttribute("aria-expanded", String(this.comparing));
            button.textContent = this.comparing ? gettext("Hide comparison") : gettext("Compare");
            const first = document.querySelector(".ra-changed-field");
            if (this.comparing && first) first.scrollIntoView({block: "center"});
        }

        markFields() {
            this.unmarkFields();
            for (const field of this.fields) {
                const row = document.querySelector(`#content-main ${field.selector}`);
                if (!row) continue;
                row.classList.add("ra-changed-field");
                const saved = document.createElement("div");
                saved.className = "help ra-saved-value";
                saved.textContent = interpolate(gettext("Saved now: %(value)s"), {value: field.value}, true);
                row.append(saved);
            }
        }

        unmarkFields() {
            document.querySelectorAll(".ra-saved-value").forEach((element) => element.remove());
            document
                .querySelectorAll(".ra-changed-field")
                .forEach((element) => element.classList.remove("ra-changed-field"));
        }
    }

    function start() {
        const script = document.getElementById("realtime-admin-change-form");
        if (!script || !("WebSocket" in window) || !window.RealtimeAdminSocket) return;
        try {
            window.realtimeAdminForm = new LiveChangeForm(JSON.parse(script.textContent));
        } catch (error) {
            console.warn("realtime_admin: live updates are off for this form", error);
        }
    }

    if (document.readyState !== "loading") {
        start();
    } else {
        document.addEventListener("DOMContentLoaded", start);
    }
}
