using System.Text.Json;

namespace IlgpuDiffusion.Training;

/// <summary>
/// A metrics entry that <see cref="MetricsLog"/> writes (a training interval, a validation, a distillation round):
/// it formats its own human line and JSON fields, and the log adds the <c>kind</c> and <c>step</c> fields.
/// </summary>
public interface IMetricsRecord
{
    /// <summary>The JSON <c>kind</c> field.</summary>
    string Kind { get; }

    /// <summary>Optimizer steps done.</summary>
    long Step { get; }

    /// <summary>The human line, given the step as the log shows it (e.g. "40/700").</summary>
    string HumanLine(string stepText);

    /// <summary>Writes the record's fields (besides kind and step) into the open JSON object.</summary>
    void WriteFields(Utf8JsonWriter writer);
}
