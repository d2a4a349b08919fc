// Go's text/tabwriter as kubectl describe sets it up (minwidth 0, tabwidth 8, padding 2,
// padchar ' ', no flags): tab-terminated cells are aligned per column within each run of
// consecutive lines that have that column; a line's last cell is not aligned.

export function tabwrite(text: string, padding = 2): string {
  const lines = text.split('\n').map((l) => l.split('\t'));
  const widths: number[] = [];
  const out: string[] = [];

  const write = (line0: number, line1: number) => {
    for (let i = line0; i < line1; i++) {
      const cells = lines[i]!;
      let s = '';
      cells.forEach((c, j) => {
        s += c;
        if (j < widths.length && j < cells.length - 1) s += ' '.repeat(Math.max(0, widths[j]! - c.length));
      });
      out.push(s);
    }
  };

  const format = (line0: number, line1: number): void => {
    const column = widths.length;
    for (let i = line0; i < line1; i++) {
      if (column >= lines[i]!.length - 1) continue;
      // A cell in this column starts a block: flush the lines before it at the current widths.
      write(line0, i);
      line0 = i;
      let width = 0;
      for (; i < line1 && column < lines[i]!.length - 1; i++) width = Math.max(width, lines[i]![column]!.length + padding);
      widths.push(width);
      format(line0, i);
      widths.pop();
      line0 = i;
      i--; // the loop's i++ must not skip the line that ended the block
    }
    write(line0, line1);
  };

  format(0, lines.length);
  return out.join('\n');
}
