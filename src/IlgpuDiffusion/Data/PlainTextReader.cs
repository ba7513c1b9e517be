using System.Text;

namespace IlgpuDiffusion.Data;

/// <summary>Reads documents from a UTF-8 plain-text file.</summary>
internal static class PlainTextReader
{
    /// <summary>
    /// The documents of <paramref name="path"/>: the whole file (exactly, less a BOM), or its
    /// blank-line separated paragraphs (lines joined by <c>\n</c>). Empty documents are skipped.
    /// </summary>
    public static IEnumerable<CorpusDocument> Read(string path, PlainTextDocuments mode) =>
        mode == PlainTextDocuments.FilePerDocument ? ReadWholeFile(path) : ReadParagraphs(path);

    private static IEnumerable<CorpusDocument> ReadWholeFile(string path)
    {
        string text = StrictUtf8.Decode(StrictUtf8.WithoutBom(File.ReadAllBytes(path)), path);
        if (text.Length > 0) yield return new CorpusDocument(path, text);
    }

    private static IEnumerable<CorpusDocument> ReadParagraphs(string path)
    {
        var paragraph = new StringBuilder();
        foreach ((long _, string line) in Utf8LineReader.Read(path))
        {
            if (!string.IsNullOrWhiteSpace(line))
            {
                if (paragraph.Length > 0) paragraph.Append('\n');
                paragraph.Append(line);
                continue;
            }
            if (paragraph.Length == 0) continue;
            yield return new CorpusDocument(path, paragraph.ToString());
            paragraph.Clear();
        }
        if (paragraph.Length > 0) yield return new CorpusDocument(path, paragraph.ToString());
    }
}
