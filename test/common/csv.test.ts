import { csvRow, parseCsv } from '../../services/common/csv';
import { InputError } from '../../services/common/errors';

describe('CSV (csv-parse and papaparse behind one module)', () => {
  it('reads quoted fields, "" escapes, line breaks in quotes, CRLF and LF, a BOM, and says where each record starts', () => {
    const text = '\ufeffkind,value\r\n\r\nnumber,"+49 ""x"""\r\nprefix,"a\r\nb"\nlast';
    expect([...parseCsv(text)]).toEqual([
      { line: 1, fields: ['kind', 'value'] },
      { line: 3, fields: ['number', '+49 "x"'] },
      { line: 4, fields: ['prefix', 'a\r\nb'] },
      { line: 6, fields: ['last'] },
    ]);
  });

  it('text that is not CSV is an input error naming the line, not a crash', () => {
    expect(() => [...parseCsv('kind,value\nnumber,"+4930')]).toThrow(InputError);
    expect(() => [...parseCsv('kind,value\nnumber,"+4930')]).toThrow(/line 2/);
  });

  it('writes a row with quoting where needed and spreadsheet formulas defused; numbers stay numbers', () => {
    expect(csvRow(['a', 'b,c', 'd"e', 'f\ng', '', undefined, '=SUM(1)', '+4930123', '-5', '@x', 12])).toBe(
      'a,"b,c","d""e","f\ng",,,\'=SUM(1),+4930123,-5,\'@x,12\n',
    );
  });
});
