/** @module view/download Download links for content made in the page (blob: URLs, a file name each). */

/** An <a download> for `content`; its blob: URL lives as long as the page. */
export function downloadLink(text: string, filename: string, type: string, content: () => string): HTMLAnchorElement {
  const a = document.createElement("a");
  a.textContent = text;
  a.download = filename;
  a.href = "#";
  a.className = "download";
  a.dataset.type = type;
  // made when first needed (a head's CSV is cheap, but 144 heads' JSON need not exist up front)
  const fill = () => {
    if (a.href.startsWith("blob:")) return;
    a.href = URL.createObjectURL(new Blob([content()], { type }));
  };
  a.addEventListener("pointerdown", fill);
  a.addEventListener("focus", fill);
  a.addEventListener("click", fill);
  return a;
}
