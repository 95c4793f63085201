// HTML to the Markdown subset chunking understands (ATX headings, paragraphs, list items),
// through htmlparser2's streaming parser. Scripts, styles and other non-content are dropped;
// entities are decoded by the parser.
import { Parser } from 'htmlparser2';

const skipped = new Set(['script', 'style', 'noscript', 'template', 'svg', 'head', 'iframe', 'object', 'canvas']);
const blocks = new Set([
  'p',
  'div',
  'section',
  'article',
  'main',
  'header',
  'footer',
  'aside',
  'nav',
  'blockquote',
  'pre',
  'table',
  'thead',
  'tbody',
  'tr',
  'ul',
  'ol',
  'dl',
  'dt',
  'dd',
  'figure',
  'figcaption',
  'form',
  'fieldset',
  'address',
  'details',
  'summary',
  'hr',
  'br',
]);
const headingPattern = /^h([1-6])$/;

/** The document's title and its text as Markdown. */
export function htmlToMarkdown(html: string): { title?: string; markdown: string } {
  let output = '';
  let title = '';
  let skipDepth = 0;
  let inTitle = false;
  let preDepth = 0;
  let heading = false;
  const parser = new Parser(
    {
      onopentag(name) {
        if (name === 'title') inTitle = true;
        if (skipped.has(name)) skipDepth++;
        if (skipDepth > 0) return;
        const level = headingPattern.exec(name)?.[1];
        if (level) {
          output += `\n\n${'#'.repeat(Number(level))} `;
          heading = true;
        } else if (name === 'li') output += '\n- ';
        else if (name === 'td' || name === 'th') output += ' | ';
        else if (blocks.has(name)) output += name === 'br' ? '\n' : '\n\n';
        if (name === 'pre') preDepth++;
      },
      ontext(text) {
        if (inTitle) title += text;
        if (skipDepth > 0) return;
        if (preDepth > 0) output += text;
        else output += heading ? text.replace(/\s+/g, ' ') : text.replace(/[ \t\r\n\f]+/g, ' ');
      },
      onclosetag(name) {
        if (name === 'title') inTitle = false;
        if (skipped.has(name)) {
          skipDepth = Math.max(0, skipDepth - 1);
          return;
        }
        if (skipDepth > 0) return;
        if (headingPattern.test(name)) {
          output += '\n\n';
          heading = false;
        } else if (blocks.has(name)) output += '\n\n';
        if (name === 'pre') preDepth = Math.max(0, preDepth - 1);
      },
    },
    { decodeEntities: true, lowerCaseTags: true },
  );
  parser.write(html);
  parser.end();
  const markdown = output
    .split('\n')
    .map((line) => line.replace(/\s+$/, '').replace(/^ +(?=\S)/, ''))
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
  const cleanTitle = title.replace(/\s+/g, ' ').trim();
  return cleanTitle ? { title: cleanTitle, markdown } : { markdown };
}
