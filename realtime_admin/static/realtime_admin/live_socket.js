/* realtime_admin: the websocket of a live admin page (changelist.js, change_form.js).
 *
 * It reconnects with backoff and jitter, shows "Reconnecting…" when down for a moment (or
 * while the server has lost its channel layer, as it says with a "layer" frame),
 * stops for good on the close codes after which retrying cannot help, and reconnects at once
 * when a hidden tab is shown again. The page it serves is told:
 *   onOpen(again)     the socket is open (again: after a drop, so changes may have been missed)
 *   onMessage(frame)  a frame from the server
 *   onResume()        a hidden tab is visible again with the socket open: catch up
 *   onStop(text)      the server will not take this socket again: say so
 * and the page asks sentToLogin(response) of its own HTTP requests' answers. Other concerns
 * of the page (jobs.js) listen with on(type, handler): to frames of that type, and to "open".
 */
"use strict";
{

    // Close codes after which retrying cannot help (see consumers.py).
    const STOPPED = {
        4401: "Live updates have stopped: your session has ended. Reload the page to log in again.",
        4403: "Live updates have stopped: you no longer have access to these rows.",
    };
    const RECONNECTING_AFTER_MS = 1500; // a quick reconnect shows nothing
    const MAX_RETRY_MS = 30000;
    // Only a connection that stays up this long ends the backoff: a server that accepts and
    // then fails at once (its database down, say) is retried less and less often.
    const STABLE_AFTER_MS = 5000;

    class LiveSocket {
        // texts: the page config's translations, by their English original (i18n.py).
        constructor(path, page, texts = {}) {
            this.gettext = (text) => texts[text] || (window.gettext ? window.gettext(text) : text);
            this.url = new URL(path, location.href);
            this.url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
            this.page = page;
            this.retries = 0;
            this.connectedBefore = false;
            this.stopped = false;
            this.listeners = {}; // type -> handlers (on)
            document.addEventListener("visibilitychange", () => this.onVisible());
            this.connect();
        }

        get isOpen() {
            return Boolean(this.socket && this.socket.readyState === WebSocket.OPEN);
        }

        send(frame) {
            if (this.isOpen) this.socket.send(JSON.stringify(frame));
        }

        on(type, handler) {
            (this.listeners[type] ||= []).push(handler);
        }

        tell(type, frame) {
            for (const handler of this.listeners[type] || []) {
                try {
                    handler(frame);
                } catch (error) {
                    console.warn(`realtime_admin: a ${type} listener failed`, error);
                }
            }
        }

        connect() {
            let socket;
            try {
                socket = new WebSocket(this.url);
            } catch (error) {
                console.warn("realtime_admin: cannot open the websocket", error);
                return;
            }
            this.socket = socket;
            socket.addEventListener("open", () => {
                const again = this.connectedBefore;
                this.connectedBefore = true;
                this.stableTimer = setTimeout(() => (this.retries = 0), STABLE_AFTER_MS);
                this.showReconnecting(false);
                this.page.onOpen(again);
                this.tell("open");
            });
            socket.addEventListener("message", (event) => {
                let frame;
                try {
                    frame = JSON.parse(event.data);
                } catch (error) {
                    console.warn("realtime_admin: bad message", error);
                    return;
                }
                if (frame.type === "layer") this.showReconnecting(!frame.up);
                this.page.onMessage(frame);
                this.tell(frame.type, frame);
            });
            socket.addEventListener("close", (event) => {
                clearTimeout(this.stableTimer);
                if (this.stopped) return;
                if (STOPPED[event.code]) return this.stop(this.gettext(STOPPED[event.code]));
                // Exponential backoff with full jitter: the tabs of a restarted server come
                // back spread over a second, then over longer and longer spans.
                const delay = Math.min(MAX_RETRY_MS, 1000 * 2 ** this.retries) * (0.2 + Math.random());
                this.retries += 1;
                this.retryTimer = setTimeout(() => this.connect(), delay);
                this.showReconnecting(true);
            });
        }

        // Back to a tab that was hidden: whatever happened meanwhile, catch up now.
        onVisible() {
            if (document.visibilityState !== "visible" || this.stopped || !this.socket) return;
            if (this.socket.readyState === WebSocket.OPEN) {
                this.page.onResume();
            } else if (this.socket.readyState === WebSocket.CLOSED) {
                clearTimeout(this.retryTimer); // no need to wait out the backoff
                this.connect();
            }
        }

        // A small "Reconnecting…" badge, shown only when the socket stays down for a moment.
        showReconnecting(down) {
            const badge = document.getElementById("ra-reconnecting");
            if (!down) {
                clearTimeout(this.reconnectingTimer);
                this.reconnectingTimer = null;
                if (badge) badge.remove();
                return;
            }
            if (badge || this.reconnectingTimer) return; // failed retries do not restart the clock
            this.reconnectingTimer = setTimeout(() => {
                this.reconnectingTimer = null;
                const element = document.createElement("div");
                element.id = "ra-reconnecting";
                element.setAttribute("role", "status");
                element.textContent = this.gettext("Reconnecting…");
                document.body.appendChild(element);
            }, RECONNECTING_AFTER_MS);
        }

        stop(text) {
            this.stopped = true;
            clearTimeout(this.retryTimer);
            this.showReconnecting(false);
            this.page.onStop(text);
        }

        // Whether the admin redirected one of the page's own requests, which its endpoints
        // answer themselves: that is to the login page, the session has ended, as the server
        // would tell with 4401 at its next check. Then stop now, and say so.
        sentToLogin(response) {
            if (!response.redirected) return false;
            if (!this.stopped) {
                this.stop(this.gettext(STOPPED[4401]));
                if (this.socket) this.socket.close();
            }
            return true;
        }
    }

    window.RealtimeAdminSocket = LiveSocket;
}
