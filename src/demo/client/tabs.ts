/**
 * @module demo/client/tabs
 * WAI-ARIA tabs: click or arrow keys (Home/End too) switch views; each view loads on first show.
 */
import { resizeAll } from "./charts";

export function initTabs(onShow: (panelId: string) => void) {
  const tabs = Array.from(document.querySelectorAll<HTMLButtonElement>('[role="tab"]'));
  const select = (tab: HTMLButtonElement, focus: boolean) => {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute("aria-selected", String(on));
      t.tabIndex = on ? 0 : -1;
      document.getElementById(t.getAttribute("aria-controls")!)!.hidden = !on;
    }
    if (focus) tab.focus();
    history.replaceState(null, "", `#${tab.id.replace("tab-", "")}`);
    onShow(tab.getAttribute("aria-controls")!);
    requestAnimationFrame(resizeAll);
  };
  tabs.forEach((tab, i) => {
    tab.addEventListener("click", () => select(tab, false));
    tab.addEventListener("keydown", (e) => {
      const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[e.key];
      if (next === undefined) return;
      e.preventDefault();
      select(tabs[(next + tabs.length) % tabs.length], true);
    });
  });
  const initial = tabs.find((t) => t.id === `tab-${location.hash.slice(1)}`) ?? tabs[0];
  select(initial, false);
}
