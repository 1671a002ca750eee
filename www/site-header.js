// <site-header>: the navigation every page of www/ shows, written once. Rendered in the light DOM
// so site.css styles it; the current page is marked for screen readers.
const LINKS = [["/", "Chat"], ["/dashboard", "Pi dashboard"], ["/analytics", "Analytics"], ["/docs", "API"]];

class SiteHeader extends HTMLElement {
  connectedCallback() {
    const header = document.createElement("header");
    header.className = "site";
    const name = document.createElement("strong");
    name.textContent = "Edge Gateway";
    const nav = document.createElement("nav");
    for (const [href, label] of LINKS) {
      const link = document.createElement("a");
      link.href = href;
      link.textContent = label;
      if (location.pathname.replace(/\.html$/, "") === href) link.setAttribute("aria-current", "page");
      nav.append(link, " ");
    }
    header.append(name, nav);
    this.replaceChildren(header);
  }
}

if (!customElements.get("site-header")) customElements.define("site-header", SiteHeader);
