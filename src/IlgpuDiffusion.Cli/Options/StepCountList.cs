using System.CommandLine;
using System.Globalization;

namespace IlgpuDiffusion.Cli.Options;

/// <summary>
/// A <c>--steps</c> option taking a list of step counts written either way, <c>--steps 8 16 32</c> or <c>--steps 8,16,32</c>
/// (eval and bench take the same syntax); optionally <c>L</c>, which the command turns into its sequence length.
/// </summary>
internal sealed class StepCountList
{
    private readonly bool _allowLength;

    /// <summary>Creates the option with <paramref name="defaults"/> as its default list.</summary>
    /// <param name="allowLength">Accept <c>L</c> (as many steps as tokens).</param>
    public StepCountList(string description, IReadOnlyList<string> defaults, bool allowLength, params string[] aliases)
    {
        _allowLength = allowLength;
        Option = new Option<string[]>("--steps", aliases)
        {
            Description = $"{description}, separated by spaces or commas (--steps 8 16 or --steps 8,16)",
            AllowMultipleArgumentsPerToken = true,
            DefaultValueFactory = _ => [.. defaults],
        };
        Option.Validators.Add(result =>
        {
            if (Problem(result.GetValueOrDefault<string[]>() ?? []) is string problem) result.AddError(problem);
        });
    }

    /// <summary>The option to add to a command.</summary>
    public Option<string[]> Option { get; }

    /// <summary>The step counts given, <c>L</c> replaced by <paramref name="length"/>.</summary>
    public int[] Parse(ParseResult parse, int length = 0) =>
        Items(parse.GetValue(Option) ?? []).Select(item => IsLength(item) ? length : int.Parse(item, CultureInfo.InvariantCulture))
            .ToArray();

    private string? Problem(string[] tokens)
    {
        string[] items = Items(tokens);
        if (items.Length == 0) return "--steps takes at least one step count.";
        string? bad = items.FirstOrDefault(item => !(_allowLength && IsLength(item))
            && !(int.TryParse(item, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 0));
        string what = _allowLength ? "positive step counts or L" : "positive step counts";
        return bad is null ? null : $"--steps takes {what}, separated by spaces or commas; got '{bad}'.";
    }

    private bool IsLength(string item) => _allowLength && item is "L" or "l";

    private static string[] Items(IEnumerable<string> tokens) =>
        tokens.SelectMany(token => token.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToArray();
}
