// An XMP packet carrying our "nucleus-image" JSON (everything needed to reproduce the image) for JPEG and WebP,
// where PNG uses a text chunk. The value is XML-escaped text in our own namespace.
const NAMESPACE = "urn:nucleus-image:xmp:1.0/";
const PROPERTY = "nucleus:parameters";

const escapeXml = (text: string) =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

const unescapeXml = (text: string) =>
  text.replace(/&(lt|gt|quot|apos|amp|#(\d+)|#x([0-9a-fA-F]+));/g, (_, name: string, decimal?: string, hex?: string) => {
    if (decimal) return String.fromCodePoint(Number(decimal));
    if (hex) return String.fromCodePoint(parseInt(hex, 16));
    return { lt: "<", gt: ">", quot: '"', apos: "'", amp: "&" }[name] ?? "";
  });

export function xmpPacket(json: string | undefined): string {
  return [
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>',
    '<x:xmpmeta xmlns:x="adobe:ns:meta/">',
    ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">',
    `  <rdf:Description rdf:about="" xmlns:nucleus="${NAMESPACE}">`,
    ...(json === undefined ? [] : [`   <${PROPERTY}>${escapeXml(json)}</${PROPERTY}>`]),
    "  </rdf:Description>",
    " </rdf:RDF>",
    "</x:xmpmeta>",
    '<?xpacket end="w"?>',
  ].join("\n");
}

/** Our JSON from an XMP packet, or undefined when the packet has none. */
export function readXmpParameters(xmp: string): string | undefined {
  const match = /<nucleus:parameters>([\s\S]*?)<\/nucleus:parameters>/.exec(xmp);
  return match ? unescapeXml(match[1]!) : undefined;
}
