using System.CommandLine;
using IlgpuDiffusion.Data;

namespace IlgpuDiffusion.Cli.Options;

/// <summary>The <c>--tokenizer</c> option of <c>prepare</c>, <c>train</c> and <c>demo</c>: a built-in tokenizer by name.</summary>
internal static class TokenizerOption
{
    /// <summary>The names, as the help lists them: "gpt2 (GPT-2 BPE, 50,257 ids) or bytes (UTF-8 bytes, 257 ids)".</summary>
    public const string Choices = "gpt2 (GPT-2 BPE, 50,257 ids) or bytes (UTF-8 bytes, 257 ids)";

    /// <summary>An option that accepts the built-in names only; <paramref name="description"/> says what it selects.</summary>
    public static Option<string?> Create(string description)
    {
        var option = new Option<string?>("--tokenizer") { Description = description, HelpName = "name" };
        option.AcceptOnlyFromAmong([.. Tokenizer.Names]);
        return option;
    }

    /// <summary>The tokenizer given, or null when the option was not given.</summary>
    public static Tokenizer? GetTokenizer(this ParseResult parse, Option<string?> option) =>
        parse.GetValue(option) is string name ? Tokenizer.FromName(name) : null;
}
