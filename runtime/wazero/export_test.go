package wazero

// DataMergeVersion is dataMergeVersion, for the cache tests.
const DataMergeVersion = dataMergeVersion
