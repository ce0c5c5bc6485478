/* realtime_admin: the panel of background jobs on a changelist, or on a change form (the
 * jobs of its actions, Django 6.1+).
 *
 * Each job the user started here shows a progress bar that moves as the job reports
 * (frames on the page's socket), a Cancel button, and at the end its final message in
 * the admin's own message style, kept until dismissed. The server also tells the page its
 * list of jobs whenever one starts or is dismissed (in another tab, say), and the panel
 * follows it. Job text is always set as text.
 */
"use strict";
{
    // The live page: the changelist's (changelist.js) or the change form's (change_form.js).
    const livePage = () => window.realtimeAdmin || window.realtimeAdminForm;
    // The page config's translations, by their English original (i18n.py).
    const gettext = (text) =>
        (livePage()?.config?.texts || {})[text] || (window.gettext ? window.gettext(text) : text);
    const interpolate =
        window.interpolate ||
        ((format, values) => format.replace(/%\((\w+)\)s/g, (_, key) => values[key]));
    const LEVEL = {succeeded: "success", cancelled: "warning", failed: "error"};
    const RECHECK_MS = 15000;

    function element(tag, className, text) {
        const node = document.createElement(tag);
        if (className) node.className = className;
        if (text !== undefined) node.textContent = text;
        return node;
    }

    class JobPanel {
        // Shown just before ``place``: the changelist, or the change form's banner.
        constructor(socket, config, place) {
            this.socket = socket;
            this.url = config.jobsUrl;
            this.views = new Map();
            this.dismissed = new Set(); // here: a list sent before the server knew stays away
            this.element = element("div", "ra-jobs");
            place.before(this.element);
            config.jobs.forEach((state) => this.show(state));
            const list = {type: "jobs", model: config.model, site: config.site, pk: config.pk ?? null};
            const ask = () => {
                socket.send(list);
                this.views.forEach((_, id) => this.follow(id));
            };
            socket.on("open", ask);
            // Frames only update jobs on show: one dismissed meanwhile stays dismissed.
            socket.on("job", (message) => this.views.has(message.job.id) && this.show(message.job));
            socket.on("jobs", (message) => this.showList(message.jobs));
            ask();
            // Ask again now and then about running jobs: if a worker died, nothing else
            // would tell us, and the server marks such a job failed when asked.
            setInterval(() => this.running.forEach((id) => this.follow(id)), RECHECK_MS);
        }

        follow(id) {
            this.socket.send({type: "job", id: id});
        }

        // The jobs this page lists, as the server has them now: new ones (started in another
        // tab) are shown and followed, those no longer listed (dismissed there) go. Those
        // shown already are left to their own frames: a list read before a job's last frame
        // may reach the page after it.
        showList(states) {
            const listed = new Set(states.map((state) => state.id));
            for (const state of states) {
                if (this.views.has(state.id) || this.dismissed.has(state.id)) continue;
                this.show(state);
                this.follow(state.id);
            }
            this.views.forEach((view, id) => {
                if (listed.has(id)) return;
                view.remove();
                this.views.delete(id);
            });
        }

        get running() {
            return [...this.views].filter(([, view]) => view.querySelector(".ra-progress")).map(([id]) => id);
        }

        show(state) {
            let view = this.views.get(state.id);
            if (!view) {
                view = element("div", "ra-job");
                view.dataset.jobId = state.id;
                this.element.append(view);
                this.views.set(state.id, view);
            }
            if (LEVEL[state.status]) {
                view.replaceChildren(this.result(state));
                return;
            }
            // A running job's panel is built once and then updated in place, so that a
            // progress frame never takes the Cancel button from under a click or the focus.
            if (!view.querySelector(".ra-job-running")) view.replaceChildren(this.progress(state));
            view.state = state; // the latest, for a cancel the server did not take
            this.update(view, state);
        }

        progress(state) {
            const box = element("div", "ra-job-running");
            const head = element("p", "ra-job-head");
            head.append(element("strong", "", state.description), " ");
            head.append(element("span", "ra-job-count"), " ", element("span", "ra-job-message quiet"));
            if (this.url) {
                const cancel = element("button", "button ra-job-cancel", gettext("Cancel"));
                cancel.type = "button";
                cancel.addEventListener("click", async () => {
                    box.dataset.cancelling = "true";
                    this.updateCancel(cancel, true);
                    if (!(await this.post(state.id, "cancel"))) {
                        delete box.dataset.cancelling; // not taken: the user may try again
                        const view = this.views.get(state.id);
                        if (view?.contains(box)) this.update(view, view.state);
                    }
                });
                head.append(" ", cancel);
            }
            const bar = element("div", "ra-progress");
            bar.setAttribute("role", "progressbar");
            bar.setAttribute("aria-label", state.description);
            bar.setAttribute("aria-valuemin", "0");
            bar.append(element("div", "ra-progress-fill"));
            box.append(head, bar);
            return box;
        }

        update(view, state) {
            view.querySelector(".ra-job-count").textContent =
                state.total === null
                    ? String(state.done)
                    : interpolate(gettext("%(done)s of %(total)s"), state, true);
            const message = view.querySelector(".ra-job-message");
            message.textContent = state.message || "";
            message.hidden = !state.message;
            const cancel = view.querySelector(".ra-job-cancel");
            if (cancel) {
                const box = view.querySelector(".ra-job-running");
                this.updateCancel(cancel, state.cancelRequested || "cancelling" in box.dataset);
            }
            const bar = view.querySelector(".ra-progress");
            bar.setAttribute("aria-valuenow", String(state.done));
            bar.classList.toggle("ra-progress-unknown", state.total === null); // indeterminate
            const fill = bar.firstElementChild;
            if (state.total === null) {
                bar.removeAttribute("aria-valuemax");
                fill.style.width = "";
            } else {
                bar.setAttribute("aria-valuemax", String(state.total));
                fill.style.width = `${state.total ? (100 * state.done) / state.total : 0}%`;
            }
        }

        updateCancel(cancel, cancelling) {
            const text = cancelling ? gettext("Cancelling…") : gettext("Cancel");
            cancel.disabled = cancelling;
            if (cancel.textContent !== text) cancel.textContent = text;
        }

        result(state) {
            const list = element("ul", "messagelist");
            const item = element("li", LEVEL[state.status]);
            let text;
            if (state.status === "succeeded") {
                text = state.result || interpolate(gettext("“%(action)s” finished."), {action: state.description}, true);
            } else if (state.status === "cancelled") {
                text = interpolate(gettext("“%(action)s” was cancelled. %(result)s"), {action: state.description, result: state.result}, true);
            } else {
                text = interpolate(gettext("“%(action)s” failed: %(error)s"), {action: state.description, error: state.error}, true);
            }
            item.append(element("span", "ra-job-result", text));
            const dismiss = element("button", "ra-job-dismiss", "×");
            dismiss.type = "button";
            dismiss.setAttribute("aria-label", gettext("Dismiss"));
            dismiss.addEventListener("click", () => {
                this.views.get(state.id).remove();
                this.views.delete(state.id);
                this.dismissed.add(state.id);
                this.post(state.id, "dismiss");
            });
            item.append(dismiss);
            list.append(item);
            return list;
        }

        // Whether the server took it.
        async post(id, what) {
            if (!this.url) return false;
            const token = document.querySelector("[name=csrfmiddlewaretoken]");
            try {
                const response = await fetch(`${this.url}${id}/${what}/`, {
                    method: "POST",
                    credentials: "same-origin",
                    headers: {"X-CSRFToken": token ? token.value : ""},
                });
                if (!response.ok) throw new Error(`${what} answered ${response.status}`);
                return !this.socket.sentToLogin(response);
            } catch (error) {
                console.warn("realtime_admin:", error);
                return false;
            }
        }
    }

    function start() {
        const live = livePage();
        const place = document.getElementById("changelist") || document.getElementById("ra-change-banner");
        if (!live || !live.config.jobs || !place) return;
        try {
            live.jobs = new JobPanel(live.socket, live.config, place);
        } catch (error) {
            console.warn("realtime_admin: the job panel is off for this page", error);
        }
    }

    if (document.readyState !== "loading") {
        start();
    } else {
        document.addEventListener("DOMContentLoaded", start);
    }
}
