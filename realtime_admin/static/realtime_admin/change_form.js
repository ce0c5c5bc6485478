/* realtime_admin: a stock Django admin change form that knows when someone else changes or
 * deletes its object, and who else has it open.
 *
 * The websocket says that the object changed and who did it, never what. This script then
 * asks the server which of the fields this user's form shows differ from the version the
 * form was loaded with (versions.py), and shows a banner with Reload and Compare. It never
 * touches the user's input: the server merges a save with what others saved meanwhile, and
 * refuses once to overwrite a field both changed.
 */
"use strict";
{
    let texts = {}; // the config's translations, by their English original (i18n.py)
    const gettext = (text) => texts[text] || (window.gettext ? window.gettext(text) : text);
    const interpolate = (format, values) => format.replace(/%\((\w+)\)s/g, (_, key) => values[key]);

    const TICK_MS = 1000; // how often "3 seconds ago" is brought up to date
    const PRESENCE_HOLD_MS = 2000; // after a reconnect, while other processes answer
    const PROCESS = "\u0000process"; // the author key of changes nobody is known for
    const lang = () => document.documentElement.lang || undefined;

    class LiveChangeForm {
        constructor(config) {
            this.config = config;
            // The server's clock minus ours: "3 seconds ago" is right on a skewed client.
            this.skew = config.now ? config.now - Date.now() / 1000 : 0;
            this.form = document.querySelector("#content-main form");
            // A page that a save came back to with errors (refused, or invalid).
            const failedSave = Boolean(document.querySelector(".errornote"));
            // The user typed something not saved yet; a failed save's page holds their input.
            this.dirty = failedSave;
            this.submitting = false;
            this.checking = false;
            this.checkAgain = false;
            this.authors = new Map(); // who changed it since it was loaded: key -> by (or null)
            this.at = null; // when the latest change told was made (server time)
            this.deleted = false;
            this.fields = []; // the changed parts, as the server last listed them
            this.banner = this.makeBanner();
            // Screen readers hear each new state once, not every tick of "3 seconds ago".
            this.announcer = document.createElement("div");
            this.announcer.className = "visually-hidden";
            this.announcer.setAttribute("role", "status");
            this.announcer.setAttribute("aria-live", "polite");
            document.body.append(this.announcer);
            if (this.form) {
                this.form.addEventListener("input", () => (this.dirty = true));
                this.form.addEventListener("change", () => (this.dirty = true));
                this.form.addEventListener("submit", () => (this.submitting = true));
            }
            // Back from the history cache, or a submit that did not navigate: listen again.
            window.addEventListener("pageshow", () => (this.submitting = false));
            this.presence =
                window.RealtimeAdminPresence && new window.RealtimeAdminPresence(config.texts);
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
                    // After a drop, or on a refused save's page (it may carry an older
                    // version than the object's): see for ourselves.
                    if (again || failedSave) this.check();
                    if (again && this.presence) this.presence.hold(PRESENCE_HOLD_MS);
                },
                onMessage: (message) => this.onMessage(message),
                onResume: () => this.check(),
                onStop: (text) => this.say("error", text),
            }, config.texts);
            setInterval(() => this.tick(), TICK_MS);
        }

        // The visible banner's place, just above the form: below the object tools, which
        // Django 5.2 floats there.
        makeBanner() {
            const region = document.createElement("div");
            region.id = "ra-change-banner";
            if (this.form) this.form.before(region);
            else document.getElementById("content-main")?.prepend(region);
            return region;
        }

        onMessage(message) {
            if (message.type === "error") {
                console.warn("realtime_admin:", message.message);
                return;
            }
            if (message.model !== this.config.model || message.pk !== this.config.pk) return;
            if (message.type === "presence") {
                // (None once the object is gone: a frame may still be on its way.)
                if (this.presence && !this.deleted) this.presence.show(message.users);
            } else if (message.type === "object") {
                if (message.op) {
                    // A delete is this event's alone, whoever changed the object before it.
                    if (message.op === "deleted") this.authors.clear();
                    this.authors.set(message.by ? String(message.by.id) : PROCESS, message.by);
                    this.at = Math.max(this.at || 0, message.at || 0) || null;
                }
                if (message.op === "deleted") {
                    this.gone();
                    this.fields = [];
                    this.show();
                } else {
                    this.check();
                }
            }
        }

        // The object is no longer the user's to see: nor is who else has it open (the socket
        // stops following it, and would tell no more).
        gone() {
            this.deleted = true;
            if (this.presence) this.presence.show([]);
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
                    if (this.socket.sentToLogin(response)) return;
                    const status = await response.json();
                    if (status.state === "same") {
                        this.clear();
                        continue;
                    }
                    if (status.state === "deleted" && !this.deleted) {
                        // Learnt over HTTP: whoever changed it before did not delete it.
                        this.gone();
                        this.authors.clear();
                        this.at = null;
                    }
                    this.fields = status.fields || [];
                    this.show();
                } while (this.checkAgain);
            } catch (error) {
                console.warn("realtime_admin: could not learn what changed", error);
            } finally {
                this.checking = false;
            }
        }

        // "Bob Marley and another process", in the page's language.
        who() {
            const names = [...this.authors].map(([key, by]) => {
                if (key === PROCESS) return gettext("another process");
                if (String(by.id) === String(this.config.user)) return gettext("you (in another tab)");
                return by.name;
            });
            if (!names.length) return null;
            return "ListFormat" in Intl
                ? new Intl.ListFormat(lang(), {type: "conjunction"}).format(names)
                : names.join(", ");
        }

        // "just now", "3 seconds ago", "2 minutes ago", in the page's language.
        ago() {
            const seconds = Math.max(0, Math.round(Date.now() / 1000 + this.skew - this.at));
            if (seconds < 2) return gettext("just now");
            const format = new Intl.RelativeTimeFormat(lang());
            if (seconds < 60) return format.format(-seconds, "second");
            if (seconds < 3600) return format.format(-Math.floor(seconds / 60), "minute");
            return format.format(-Math.floor(seconds / 3600), "hour");
        }

        // "Deleted" and "no longer yours to see" are one answer: the server tells a page
        // nothing of a row its user may not see, not even that it still exists.
        headline() {
            const values = {name: this.config.name, who: this.who()};
            if (values.who && this.at) {
                values.when = this.ago();
                return interpolate(
                    this.deleted
                        ? gettext("This %(name)s is no longer available to you, after a change by %(who)s %(when)s: it was deleted, or you may no longer see it.")
                        : gettext("This %(name)s was changed by %(who)s %(when)s."),
                    values,
                );
            }
            return interpolate(
                this.deleted
                    ? gettext("This %(name)s is no longer available to you: it was deleted, or you may no longer see it.")
                    : gettext("This %(name)s was changed since you opened it."),
                values,
            );
        }

        fieldsText() {
            if (!this.fields.length) return "";
            const labels = this.fields.map((field) => field.label);
            const list =
                "ListFormat" in Intl
                    ? new Intl.ListFormat(lang(), {type: "conjunction"}).format(labels)
                    : labels.join(", ");
            return interpolate(gettext("Changed: %(fields)s."), {fields: list});
        }

        show() {
            if (this.submitting) return; // this page is on its way out
            let banner = this.banner.querySelector(".ra-banner");
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
                this.banner.append(banner);
            }
            const headline = this.headline();
            const fields = this.fieldsText();
            banner.querySelector(".ra-banner-text").textContent = headline;
            banner.querySelector(".ra-banner-fields").textContent = fields ? " " + fields : "";
            banner.querySelector(".ra-reload").hidden = this.deleted;
            const compare = banner.querySelector(".ra-compare");
            compare.hidden = this.deleted || !this.fields.length;
            if (this.comparing) this.markFields(); // keep the comparison up to date
            compare.textContent = this.comparing ? gettext("Hide comparison") : gettext("Compare");
            const announcement = `${headline} ${fields}`.trim();
            if (this.announcer.textContent !== announcement) this.announcer.textContent = announcement;
        }

        clear() {
            this.banner.replaceChildren();
            this.announcer.textContent = "";
            this.comparing = false;
            this.authors.clear();
            this.at = null;
            this.unmarkFields();
        }

        tick() {
            const text = this.banner.querySelector(".ra-banner-text");
            if (text && this.at) text.textContent = this.headline(); // (not re-announced)
        }

        say(level, text) {
            const notice = document.createElement("ul");
            notice.className = "messagelist ra-notice";
            notice.setAttribute("role", "status");
            notice.innerHTML = `<li class="${level}"></li>`;
            notice.firstChild.textContent = text;
            this.banner.append(notice);
        }

        reload() {
            if (this.dirty && !confirm(gettext("Discard your unsaved changes and reload?"))) return;
            location.assign(location.href.split("#")[0]); // a GET, never a re-POST or a jump
        }

        // Compare: under each changed part, what is saved now; the user's input stays as is.
        compare() {
            this.comparing = !this.comparing;
            if (this.comparing) this.markFields();
            else this.unmarkFields();
            const button = this.banner.querySelector(".ra-compare");
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
                saved.textContent =
                    field.value === null
                        ? gettext("Saved now: (not shown)")
                        : interpolate(gettext("Saved now: %(value)s"), {value: field.value});
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
            const config = JSON.parse(script.textContent);
            texts = config.texts || {};
            window.realtimeAdminForm = new LiveChangeForm(config);
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
