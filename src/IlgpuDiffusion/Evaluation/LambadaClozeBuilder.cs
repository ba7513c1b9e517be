namespace IlgpuDiffusion.Evaluation;

/// <summary>
/// Builds LAMBADA-style last-word cloze passages from held-out documents of a corpus (report the result as
/// "LAMBADA-style cloze", not as LAMBADA: there is no human filtering). The rule:
/// <list type="number">
/// <item>A document is split into words at whitespace (runs of whitespace, newlines included, become one space) and
/// into sentences after words ending in <c>.</c>, <c>!</c> or <c>?</c> (closing quotes and brackets may follow), except
/// titles such as "Mr." and single initials such as "J.".</item>
/// <item>A passage is a run of whole consecutive sentences; its target is the last word of its last sentence with the
/// sentence punctuation removed (LAMBADA passages end without a full stop). The target must be letters only, with at
/// least <see cref="LambadaClozeOptions.MinWordLetters"/> letters.</item>
/// <item>The context (every word before the target) has <see cref="LambadaClozeOptions.MinContextWords"/> to
/// <see cref="LambadaClozeOptions.MaxContextWords"/> words: sentences are added at the front while they fit.</item>
/// <item>With <see cref="LambadaClozeOptions.RequireWordInEarlierSentences"/>, the target word must occur in an earlier
/// sentence of the passage.</item>
/// <item>Passages do not overlap: after a passage, the next one starts at the next sentence.</item>
/// </list>
/// The passages split exactly like LAMBADA's (<see cref="LambadaPassage.Split"/> of their text gives them back).
/// </summary>
public static class LambadaClozeBuilder
{
    private const string ClosingMarks = "\"'”’)]";

    /// <summary>The cloze passages of <paramref name="documents"/>, in document order.</summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public static IReadOnlyList<LambadaPassage> Build(IEnumerable<string> documents, LambadaClozeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(documents);
        options ??= LambadaClozeOptions.Default;
        CheckOptions(options);
        var passages = new List<LambadaPassage>();
        foreach (string document in documents)
        {
            if (document is null) throw new ArgumentException("A document is null.", nameof(documents));
            foreach (LambadaPassage passage in FromDocument(document, options))
            {
                if (passages.Count == options.MaxPassages) return passages;
                passages.Add(passage);
            }
        }
        return passages;
    }

    private static IEnumerable<LambadaPassage> FromDocument(string document, LambadaClozeOptions options)
    {
        string[] words = document.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        List<int> sentenceStarts = SentenceStarts(words);
        int firstSentence = 0; // passages may not reach back before this sentence (no overlap)
        for (int s = 0; s < sentenceStarts.Count; s++)
        {
            int end = s + 1 < sentenceStarts.Count ? sentenceStarts[s + 1] : words.Length; // exclusive
            if (!IsSentenceEnd(words[end - 1])) continue; // a document's unfinished last sentence
            string word = TargetWord(words[end - 1]);
            if (word.Length < options.MinWordLetters || !word.All(char.IsAsciiLetter)) continue;

            int start = s;
            while (start > firstSentence && end - 1 - sentenceStarts[start - 1] <= options.MaxContextWords) start--;
            int contextWords = end - 1 - sentenceStarts[start];
            if (contextWords < options.MinContextWords || contextWords > options.MaxContextWords) continue;
            if (options.RequireWordInEarlierSentences && !Occurs(word, words, sentenceStarts[start], sentenceStarts[s])) continue;

            string context = string.Join(' ', words, sentenceStarts[start], contextWords);
            yield return new LambadaPassage(context, " " + word);
            firstSentence = s + 1;
        }
    }

    /// <summary>Index of the first word of every sentence.</summary>
    private static List<int> SentenceStarts(string[] words)
    {
        var starts = new List<int>();
        for (int i = 0; i < words.Length; i++)
        {
            if (i == 0 || IsSentenceEnd(words[i - 1])) starts.Add(i);
        }
        return starts;
    }

    private static bool IsSentenceEnd(string word)
    {
        string trimmed = word.TrimEnd(ClosingMarks.ToCharArray());
        if (trimmed.Length == 0 || trimmed[^1] is not ('.' or '!' or '?')) return false;
        if (trimmed[^1] != '.') return true;
        string stem = trimmed[..^1];
        return !(stem.Length == 1 && char.IsUpper(stem[0])) && !Abbreviations.Contains(stem);
    }

    /// <summary>Titles that end in a full stop without ending a sentence (single initials such as "J." are handled too).</summary>
    private static readonly HashSet<string> Abbreviations =
        ["Mr", "Mrs", "Ms", "Dr", "St", "Jr", "Sr", "Prof", "Gen", "Gov", "Sen", "Rep", "Hon", "Col", "Capt", "Lt", "Sgt", "Rev", "vs"];

    /// <summary>The word without closing marks and sentence punctuation: <c>door."</c> → <c>door</c>.</summary>
    private static string TargetWord(string word) => word.TrimEnd((ClosingMarks + ".!?").ToCharArray());

    /// <summary>Whether <paramref name="word"/> occurs, ignoring case and surrounding punctuation, in words [from, to).</summary>
    private static bool Occurs(string word, string[] words, int from, int to)
    {
        for (int i = from; i < to; i++)
        {
            if (words[i].Trim(PunctuationAround).Equals(word, StringComparison.OrdinalIgnoreCase)) return true;
        }
        return false;
    }

    private static readonly char[] PunctuationAround = [.. ClosingMarks, '"', '\'', '“', '‘', '(', '[', '.', ',', ';', ':', '!', '?'];

    private static void CheckOptions(LambadaClozeOptions options)
    {
        if (options.MinContextWords < 1)
            throw new ArgumentException($"MinContextWords must be at least 1, got {options.MinContextWords}.", nameof(options));
        if (options.MaxContextWords < options.MinContextWords)
            throw new ArgumentException(
                $"MaxContextWords ({options.MaxContextWords}) is below MinContextWords ({options.MinContextWords}).", nameof(options));
        if (options.MinWordLetters < 1)
            throw new ArgumentException($"MinWordLetters must be at least 1, got {options.MinWordLetters}.", nameof(options));
        if (options.MaxPassages is < 1)
            throw new ArgumentException($"MaxPassages must be at least 1 when set, got {options.MaxPassages}.", nameof(options));
    }
}
