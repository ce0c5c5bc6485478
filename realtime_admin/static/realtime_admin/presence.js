/* realtime_admin: "who else is here", as small initials under the page title with each
 * person's name on hover (and for screen readers). The server sends the roster of the page
 * without the viewer; an empty roster hides the row.
 */
"use strict";
{

    function initials(name) {
        const words = String(name).trim().split(/\s+/).filter(Boolean);
        const letters = words.length > 1 ? [words[0], words[words.length - 1]] : words;
        return letters.map((word) => Array.from(word)[0].toUpperCase()).join("") || "?";
    }

    // A steady colour per person, so the same face keeps its colour across pages.
    function hue(id) {
        let hash = 0;
        for (const char of String(id)) hash = (hash * 31 + char.codePointAt(0)) % 100003;
        return Math.round(hash * 137.508) % 360; // the golden angle: near ids, far hues
    }

    class Presence {
        // texts: the page config's translations, by their English original (i18n.py).
        constructor(texts = {}) {
            const gettext = (text) => texts[text] || text;
            this.element = document.createElement("div");
            this.element.className = "ra-presence";
            this.element.hidden = true;
            const label = document.createElement("span");
            label.className = "ra-presence-label";
            label.textContent = gettext("Also here:");
            this.list = document.createElement("ul");
            this.list.setAttribute("aria-label", gettext("Also here"));
            this.element.append(label, this.list);
            // Under the page's title and subtitle (inside Django 6's .titles block).
            const titles = document.querySelector("#content .titles");
            const headings = document.querySelectorAll("#content > h1, #content > h2");
            if (titles) {
                titles.append(this.element);
            } else if (headings.length) {
                headings[headings.length - 1].after(this.element);
            } else {
                document.getElementById("content")?.prepend(this.element);
            }
        }

        // After a reconnect the server's first roster may lack users of other processes
        // until they answer: for a moment, people are added but nobody is taken away.
        hold(ms) {
            this.holdUntil = Date.now() + ms;
        }

        show(users) {
            this.latest = users;
            const wait = (this.holdUntil || 0) - Date.now();
            if (wait > 0) {
                const ids = new Set(users.map((user) => String(user.id)));
                users = [...users, ...(this.shown || []).filter((user) => !ids.has(String(user.id)))];
                clearTimeout(this.holdTimer);
                this.holdTimer = setTimeout(() => this.show(this.latest), wait);
            }
            this.shown = users;
            this.list.replaceChildren(
                ...users.map((user) => {
                    const item = document.createElement("li");
                    item.className = "ra-avatar";
                    item.title = user.name;
                    item.dataset.userId = user.id;
                    item.style.setProperty("--ra-avatar-hue", hue(user.id));
                    const letters = document.createElement("span");
                    letters.setAttribute("aria-hidden", "true");
                    letters.textContent = initials(user.name);
                    const name = document.createElement("span");
                    name.className = "visually-hidden";
                    name.textContent = user.name;
                    item.append(letters, name);
                    return item;
                }),
            );
            this.element.hidden = users.length === 0;
        }
    }

    window.RealtimeAdminPresence = Presence;
}
