Feature: Integrated neighbourhood teams share what each member needs for direct care
  Hospital, community, GP, mental health and council social care staff who care for the same
  person share what each of them needs to do it, and no more. Sharing within the care team for
  the person's own care rests on the organisations' public task, the health and social care
  condition, and the person's implied consent; an objection stops it.

  Scenario: Scenario 1: A social worker gets the hospital's capacity assessment
    Given a social worker at Northgate City Council in the person's care team
    When they ask Northgate Hospitals for the capacity assessment for direct care
    Then sharing is permitted
    And the legal basis includes Article 9(2)(h)
    And the legal basis includes implied consent
    And the legal basis includes Article 6(1)(e)
    And they must share the minimum necessary
    And they must record the disclosure
    And the deciding rule is ntg-int-care/capacity-assessment-direct-care

  Scenario: Scenario 2: A social worker outside the person's care team is refused
    Given a social worker at Northgate City Council who is not in the person's care team
    When they ask Northgate Hospitals for the capacity assessment for direct care
    Then sharing is not permitted
    And the reason mentions "need-to-know"
    And the reason mentions "Caldicott principle 4"
    And it would be permitted if the requester were in the person's care team
    And the deciding rule is ntg-int-care/not-in-care-team

  Scenario: Scenario 4: A GP gets the hospital discharge summary
    Given a GP at Riverside Medical Practice in the person's care team
    When they ask Northgate Hospitals for the discharge summary for direct care
    Then sharing is permitted
    And the legal basis includes Article 9(2)(h)
    And the deciding rule is ntg-int-care/clinical-records-for-clinicians

  Scenario: Scenario 5: The person has objected to their GP summary going to social care
    Given a social worker at Northgate City Council in the person's care team
    And the person has objected to this sharing
    When they ask Riverside Medical Practice for the GP summary for direct care
    Then sharing is not permitted
    And the reason mentions "objected"
    And the reason mentions "s251B"
    And the legal basis includes Health and Social Care Act 2012 section 251B
    And the deciding rule is ntg-int-care/person-objected
    And rule ntg-int-care/social-care-professionals is overridden
    And nothing would make it permitted

  Scenario: Scenario 17: A receptionist cannot see mental health notes
    Given a receptionist at Riverside Medical Practice in the person's care team
    When they ask Northgate Hospitals for the mental health record for direct care
    Then sharing is not permitted
    And the reason mentions "not in a clinical or care role"
    And the reason mentions "need-to-know"
    And the deciding rule is ntg-int-care/receptionist-not-clinical
    And nothing would make it permitted

  Scenario: Scenario 18: A home care worker gets the care plan
    Given a home care worker at Northgate City Council in the person's care team
    When they ask Northgate Community Health for the care plan for direct care
    Then sharing is permitted
    And the reason mentions "care plan"
    And they must share the minimum necessary
    And the deciding rule is ntg-int-care/care-plan-for-home-care-workers

  Scenario: Scenario 19: A home care worker does not get test results
    Given a home care worker at Northgate City Council in the person's care team
    When they ask Northgate Community Health for the test results for direct care
    Then sharing is not permitted
    And the reason mentions "minimum necessary"
    And the deciding rule is ntg-int-care/home-care-worker-minimum-necessary

  Scenario: Scenario 20: Discharge planning is direct care
    Given a discharge coordinator at Northgate Hospitals in the person's care team
    When they ask Northgate City Council for the social care assessment for direct care
    Then sharing is permitted
    And the reason mentions "discharge from hospital is direct care"
    And the legal basis includes Article 9(2)(h)
    And the deciding rule is ntg-int-care/discharge-planning

  Scenario: Scenario 21: After the agreement has ended nothing covers the request
    Given a social worker at Northgate City Council in the person's care team
    And the sharing would happen on 2028-06-01
    When they ask Northgate Hospitals for the capacity assessment for direct care
    Then sharing is not permitted
    And the agreement ntg-int-care was not in force
    And the reason mentions "Northgate integrated neighbourhood teams information sharing agreement"
    And the reason mentions "ended on 2028-03-31"
    And no agreement covers it

  Scenario: Scenario 22: A mental health nurse gets the GP's medication list
    Given a mental health nurse at Northgate Mental Health in the person's care team
    When they ask Riverside Medical Practice for the medication list for direct care
    Then sharing is permitted
    And the legal basis includes Article 9(2)(h)
    And the legal basis includes Data Protection Act 2018 section 11(1)

  Scenario: Scenario 24: The best-interests decision for a person who lacks capacity
    Given a social worker at Northgate City Council in the person's care team
    And the person lacks capacity for this decision
    When they ask Northgate Hospitals for the best interests decision for direct care
    Then sharing is permitted
    And the legal basis includes Mental Capacity Act 2005 section 4
    And the legal basis includes best interests of a person who lacks capacity
    And the legal basis does not include implied consent
    And the deciding rule is ntg-int-care/best-interests-lacks-capacity

  Scenario: A capacity assessment for a person who lacks capacity rests on best interests
    Given a GP at Castle Street Surgery in the person's care team
    And the person lacks capacity for this decision
    When they ask Northgate City Council for the capacity assessment for direct care
    Then sharing is permitted
    And the reason mentions "best interests"
    And the obligations include secure transfer

  Scenario: A refusal of consent counts as an objection
    Given a district nurse at Northgate Community Health in the person's care team
    And the person has refused consent
    When they ask Castle Street Surgery for the GP summary for direct care
    Then sharing is not permitted
    And the deciding rule is ntg-int-care/person-objected

  Scenario: Staff outside the partnership are not covered for direct care
    Given a police officer at Northgate Constabulary in the person's care team
    When they ask Northgate Hospitals for the discharge summary for direct care
    Then sharing is not permitted
    And no agreement covers it
    And the reason mentions "ask your IG lead or Caldicott Guardian"

  Scenario: A safeguarding lead asking for direct care is pointed elsewhere
    Given a safeguarding lead at Northgate City Council in the person's care team
    When they ask Northgate Hospitals for the discharge summary for direct care
    Then sharing is not permitted
    And no agreement covers it

  Scenario Outline: Clinicians in the care team get the clinical record they need (<role> at <organisation>, <record>)
    Given a <role> at <organisation> in the person's care team
    When they ask <holder> for the <record> for direct care
    Then sharing is permitted
    And the legal basis includes Article 6(1)(e)
    And the legal basis includes Article 9(2)(h)
    And the legal basis includes implied consent
    And they must share the minimum necessary
    And the deciding rule is ntg-int-care/clinical-records-for-clinicians

    Examples:
      | role                | organisation                | holder                      | record                 |
      | consultant          | Northgate Hospitals         | Riverside Medical Practice  | GP summary             |
      | ward nurse          | Northgate Hospitals         | Castle Street Surgery       | medication list        |
      | hospital pharmacist | Northgate Hospitals         | Riverside Medical Practice  | medication list        |
      | district nurse      | Northgate Community Health  | Northgate Hospitals         | discharge summary      |
      | community matron    | Northgate Community Health  | Riverside Medical Practice  | test results           |
      | therapist           | Northgate Community Health  | Northgate City Council      | care plan              |
      | practice nurse      | Castle Street Surgery       | Northgate Hospitals         | test results           |
      | GP                  | Castle Street Surgery       | Northgate City Council      | social care assessment |
      | mental health nurse | Northgate Mental Health     | Northgate Hospitals         | discharge summary      |
      | consultant          | Northgate Mental Health     | Castle Street Surgery       | GP summary             |

  Scenario Outline: Social care professionals get the care and health summaries (<role>, <record>)
    Given a <role> at Northgate City Council in the person's care team
    When they ask <holder> for the <record> for direct care
    Then sharing is permitted
    And the deciding rule is ntg-int-care/social-care-professionals
    And they must record the disclosure

    Examples:
      | role             | holder                     | record            |
      | social worker    | Riverside Medical Practice | GP summary        |
      | social worker    | Northgate Hospitals        | discharge summary |
      | care coordinator | Northgate Community Health | care plan         |
      | care coordinator | Castle Street Surgery      | medication list   |

  Scenario Outline: Mental health notes go only to the clinicians treating the person (<role>)
    Given a <role> at <organisation> in the person's care team
    When they ask Northgate Mental Health for the mental health record for direct care
    Then sharing is <answer>
    And the deciding rule is <rule>

    Examples:
      | role                  | organisation               | answer        | rule                                                   |
      | consultant            | Northgate Hospitals        | permitted     | ntg-int-care/mental-health-notes-for-treating-clinicians |
      | GP                    | Riverside Medical Practice | permitted     | ntg-int-care/mental-health-notes-for-treating-clinicians |
      | mental health nurse   | Northgate Mental Health    | permitted     | ntg-int-care/mental-health-notes-for-treating-clinicians |
      | ward nurse            | Northgate Hospitals        | not permitted | ntg-int-care/mental-health-notes-need-to-know           |
      | district nurse        | Northgate Community Health | not permitted | ntg-int-care/mental-health-notes-need-to-know           |
      | social worker         | Northgate City Council     | not permitted | ntg-int-care/mental-health-notes-need-to-know           |
      | discharge coordinator | Northgate Hospitals        | not permitted | ntg-int-care/mental-health-notes-need-to-know           |

  Scenario Outline: A home care worker sees the care plan and medicines, not clinical detail (<record>)
    Given a home care worker at Northgate City Council in the person's care team
    When they ask Riverside Medical Practice for the <record> for direct care
    Then sharing is <answer>
    And the deciding rule is <rule>

    Examples:
      | record              | answer        | rule                                             |
      | care plan           | permitted     | ntg-int-care/care-plan-for-home-care-workers     |
      | medication list     | permitted     | ntg-int-care/care-plan-for-home-care-workers     |
      | GP summary          | not permitted | ntg-int-care/home-care-worker-minimum-necessary  |
      | capacity assessment | not permitted | ntg-int-care/home-care-worker-minimum-necessary  |
      | risk assessment     | not permitted | ntg-int-care/home-care-worker-minimum-necessary  |

  Scenario Outline: Test results stay with clinicians (<role>)
    Given a <role> at <organisation> in the person's care team
    When they ask Northgate Hospitals for the test results for direct care
    Then sharing is not permitted
    And the reason mentions "minimum necessary"
    And the deciding rule is ntg-int-care/test-results-clinicians-only

    Examples:
      | role                  | organisation           |
      | social worker         | Northgate City Council |
      | care coordinator      | Northgate City Council |
      | discharge coordinator | Northgate Hospitals    |

  Scenario Outline: A receptionist sees no care records at all (<record>)
    Given a receptionist at Northgate Hospitals in the person's care team
    When they ask Castle Street Surgery for the <record> for direct care
    Then sharing is not permitted
    And the deciding rule is ntg-int-care/receptionist-not-clinical

    Examples:
      | record            |
      | discharge summary |
      | medication list   |
      | test results      |
