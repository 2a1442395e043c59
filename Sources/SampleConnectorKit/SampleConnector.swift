/// The sample connector: a realistic connector.json with tools, templates, a
/// configuration schema, and a logo, for trying activation without writing a
/// connector.
public enum SampleConnector {
    /// The routes to serve: `/connector.json` and `/logo.svg`.
    public static var routes: [String: FixtureRoute] {
        [
            "/connector.json": .json(schemaJSON),
            "/logo.svg": .respond(headers: ["Content-Type": "image/svg+xml"], body: Array(logoSVG.utf8)),
        ]
    }

    /// Number of tools in the schema.
    public static let toolsCount = 3
    /// Number of templates in the schema.
    public static let templatesCount = 2

    public static let schemaJSON = #"""
        {
          "name": "sample_postgres",
          "description": "Sample PostgreSQL connector: query tables and describe schemas",
          "version": "1.2.0",
          "logo_url": "logo.svg",
          "config": {
            "params": {
              "type": "object",
              "required": ["host", "database"],
              "properties": {
                "host": {"type": "string", "title": "Host", "default": "localhost"},
                "port": {"type": "integer", "title": "Port", "default": 5432},
                "database": {"type": "string", "title": "Database"},
                "read_only": {"type": "boolean", "title": "Read only", "default": true}
              }
            },
            "ui_schema": {"host": {"ui:placeholder": "db.internal"}}
          },
          "tools": [
            {
              "name": "run_query",
              "title": "Run a query",
              "description": "Runs a read-only SQL query and returns the rows.",
              "inputSchema": {
                "type": "object",
                "required": ["sql"],
                "properties": {"sql": {"type": "string"}, "limit": {"type": "integer", "maximum": 1000}}
              },
              "annotations": {"readOnlyHint": true}
            },
            {
              "name": "list_tables",
              "description": "Lists the tables of a schema.",
              "inputSchema": {"type": "object", "properties": {"schema": {"type": "string", "default": "public"}}}
            },
            {
              "name": "describe_table",
              "description": "Describes the columns of a table.",
              "inputSchema": {"type": "object", "required": ["table"], "properties": {"table": {"type": "string"}}},
              "outputSchema": {"type": "object", "properties": {"columns": {"type": "array"}}}
            }
          ],
          "templates": [
            {
              "name": "daily_report",
              "title": "Daily report",
              "description": "Summarizes yesterday's rows of a table.",
              "is_async": true,
              "inputSchema": {"type": "object", "properties": {"table": {"type": "string"}}}
            },
            {
              "name": "schema_overview",
              "title": "Schema overview",
              "description": "Describes every table of a schema.",
              "is_async": false,
              "inputSchema": {"type": "object", "properties": {"schema": {"type": "string"}}}
            }
          ]
        }
        """#

    public static let logoSVG = """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">
          <rect width="64" height="64" rx="12" fill="#336791"/>
          <text x="32" y="41" font-family="sans-serif" font-size="24" fill="#fff" text-anchor="middle">PG</text>
        </svg>
        """

    /// A 1x1 PNG, for tests that want a binary image.
    public static let logoPNG: [UInt8] = [
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
        0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
        0x89, 0x00, 0x00, 0x00, 0x0A, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
        0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
        0x42, 0x60, 0x82,
    ]
}
