namespace IlgpuDiffusion.Evaluation;

/// <summary>
/// A last-word prediction passage, split as LAMBADA is (lm-eval's <c>text.rsplit(" ", 1)</c>): the context is
/// the text before the last space, the target is that space followed by the last word.
/// </summary>
/// <param name="Context">Text before the last space, e.g. <c>"... he handed her the"</c>.</param>
/// <param name="Target">The last word with its leading space, e.g. <c>" key"</c>.</param>
public sealed record LambadaPassage(string Context, string Target)
{
    /// <summary>The whole passage (<see cref="Context"/> followed by <see cref="Target"/>).</summary>
    public string Text => Context + Target;

    /// <summary>The last word without its leading space.</summary>
    public string Word => Target[1..];

    /// <summary>Splits <paramref name="text"/> at its last space.</summary>
    /// <exception cref="FormatException">The text has no space, ends with a space, or has nothing before its last word.</exception>
    public static LambadaPassage Split(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int space = text.LastIndexOf(' ');
        if (space < 0) throw new FormatException("the text has no space, so it has no context before its last word.");
        if (space == text.Length - 1) throw new FormatException("the text ends with a space, so its last word is empty.");
        if (string.IsNullOrWhiteSpace(text[..space])) throw new FormatException("the text has no context before its last word.");
        return new LambadaPassage(text[..space], text[space..]);
    }
}
