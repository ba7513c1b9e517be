using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace IlgpuDiffusion.Cli.Options;

/// <summary>Parse-time checks on option values, reported as usage errors that name the option.</summary>
internal static class OptionRules
{
    /// <summary>Rejects a value for which <paramref name="valid"/> is false: "--name must be {what}; got {value}.".</summary>
    public static Option<T> Require<T>(this Option<T> option, Func<T, bool> valid, string what)
    {
        option.Validators.Add(result =>
        {
            if (TryGetValue(result, out T? value) && value is not null && !valid(value))
                result.AddError(string.Create(CultureInfo.InvariantCulture, $"{option.Name} must be {what}; got {value}."));
        });
        return option;
    }

    /// <summary>Rejects a given value for which <paramref name="valid"/> is false (an option not given is not checked).</summary>
    public static Option<T?> RequireGiven<T>(this Option<T?> option, Func<T, bool> valid, string what) where T : struct
    {
        option.Validators.Add(result =>
        {
            if (TryGetValue(result, out T? value) && value is T given && !valid(given))
                result.AddError(string.Create(CultureInfo.InvariantCulture, $"{option.Name} must be {what}; got {given}."));
        });
        return option;
    }

    /// <summary>Accepts only values ≥ 1.</summary>
    public static Option<int?> Positive(this Option<int?> option) => option.RequireGiven(v => v >= 1, "at least 1");

    /// <summary>Accepts only values ≥ 1.</summary>
    public static Option<int> Positive(this Option<int> option) => option.Require(v => v >= 1, "at least 1");

    /// <summary>Accepts only values ≥ 0.</summary>
    public static Option<int?> NotNegative(this Option<int?> option) => option.RequireGiven(v => v >= 0, "at least 0");

    /// <summary>Accepts only values ≥ 0.</summary>
    public static Option<int> NotNegative(this Option<int> option) => option.Require(v => v >= 0, "at least 0");

    /// <summary>
    /// The option's value, or false when its text does not convert to <typeparamref name="T"/>: validators run
    /// before the conversion error is reported, and that error ("Cannot parse argument ...") is the one to show.
    /// </summary>
    private static bool TryGetValue<T>(OptionResult result, out T? value)
    {
        try
        {
            value = result.GetValueOrDefault<T>();
            return true;
        }
        catch (InvalidOperationException)
        {
            value = default;
            return false;
        }
    }
}
