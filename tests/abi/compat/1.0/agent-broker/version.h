/* agent-broker plugin ABI: the version of agent-broker these headers came with. */
#ifndef AGENT_BROKER_VERSION_H
#define AGENT_BROKER_VERSION_H

#define AB_VERSION_STRING "compat-1.0"

#endif
