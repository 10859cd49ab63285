import { Document, isCollection, isMap, isNode, isSeq, visit, type ToStringOptions } from 'yaml';

/**
 * Re-serialising an edited document in the style it was written in: the same indentation, sequences
 * indented under their key or not (`kubectl get -o yaml` does not), flow collections padded or not, and
 * no re-folding of long lines. Comments and quoting are kept by the yaml package itself.
 */

function column(source: string, offset: number): number {
  return offset - (source.lastIndexOf('\n', offset - 1) + 1);
}

/** The formatting options that reproduce `doc`'s own style (read from its source text). */
function detectStyle(doc: Document, source: string): ToStringOptions {
  let indent: number | undefined;
  let indentSeq: boolean | undefined;
  let flowCollectionPadding: boolean | undefined;
  visit(doc, {
    Pair(_, pair) {
      const keyRange = isNode(pair.key) ? pair.key.range : undefined;
      const value = pair.value;
      if (!keyRange || !isCollection(value) || !value.range || value.flow) return;
      const offset = column(source, value.range[0]) - column(source, keyRange[0]);
      if (isMap(value) && indent === undefined && offset > 0) indent = offset;
      if (isSeq(value) && indentSeq === undefined) indentSeq = offset > 0;
    },
    Collection(_, node) {
      if (flowCollectionPadding === undefined && node.flow && node.items.length > 0 && node.range) {
        flowCollectionPadding = source[node.range[0] + 1] === ' ';
      }
    },
  });
  return { indent: indent ?? 2, indentSeq: indentSeq ?? true, flowCollectionPadding: flowCollectionPadding ?? true, lineWidth: 0 };
}

/**
 * The text of `doc`'s contents alone: what replaces the source between the start and the end of the
 * contents. Comments above the contents are left out: they lie before that range and stay in the source.
 */
export function stringifyContents(doc: Document, source: string): string {
  const contents = doc.contents;
  if (!isNode(contents)) throw new Error('an empty document has no contents to write');
  const style = detectStyle(doc, source);
  contents.commentBefore = undefined;
  contents.spaceBefore = false;
  const firstKey = isMap(contents) ? contents.items[0]?.key : undefined;
  if (isNode(firstKey)) {
    firstKey.commentBefore = undefined;
    firstKey.spaceBefore = false;
  }
  const body = new Document(null, { version: '1.1' });
  body.contents = contents;
  return body.toString(style);
}
