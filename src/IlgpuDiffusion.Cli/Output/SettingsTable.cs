using System.Text.Json;
using System.Text.Json.Serialization;
using Spectre.Console;

namespace IlgpuDiffusion.Cli.Output;

/// <summary>Two-column tables (setting, value) of config records and summaries, for the console.</summary>
internal static class SettingsTable
{
    /// <summary>Enums by name; NaN and infinities as words (a checkpoint may hold them, e.g. an unbounded clip).</summary>
    private static readonly JsonSerializerOptions Json = new()
    {
        Converters = { new JsonStringEnumConverter() },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>Every serialized property of <paramref name="record"/> (a config or state record) as a row.</summary>
    public static Table Of<T>(string title, T record) where T : notnull
    {
        JsonElement root = JsonSerializer.SerializeToElement(record, Json);
        return Of(title, root.EnumerateObject().Select(p =>
            (p.Name, p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText())));
    }

    /// <summary>The given rows.</summary>
    public static Table Of(string title, IEnumerable<(string Setting, string Value)> rows)
    {
        var table = new Table { Title = new TableTitle(Markup.Escape(title)), Border = TableBorder.Rounded };
        table.AddColumn("setting");
        table.AddColumn("value");
        foreach (var (setting, value) in rows) table.AddRow(Markup.Escape(setting), Markup.Escape(value));
        return table;
    }
}
